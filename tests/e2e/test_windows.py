"""win-x64 and win-arm64 on this Linux machine: zips, PE model, wine for x64, honesty for arm64."""

from __future__ import annotations

import zipfile

import pytest

from ci.binaries import read_binary
from ci.core import schemas
from ci.runtime.exports import read_exports
from tests.pe_view import model_readobj_view, objdump_view, readobj_view


def _stages(pipeline: dict) -> dict:
    report = schemas.load("report", pipeline["dist"] / "report.json")
    return {s["stage"]: s for s in report["stages"]}


def _pe_files(pipeline: dict) -> list:
    return [p for p in pipeline["apps"].rglob("*") if p.is_file() and p.suffix in (".dll", ".exe")]


def test_win_x64_runs_under_wine_and_says_so(pipeline_win_x64):
    stages = _stages(pipeline_win_x64)
    assert [s["status"] for s in stages.values()] == ["ok"] * 6
    assert stages["share"]["details"]["run_mode"] == "wine"
    for process in stages["share"]["details"]["processes"]:
        assert process["copies"] == 1 and process["same_file"]
    assert {r["how"] for r in stages["smoke"]["details"]["results"]} == {"emulated (wine)"}


def test_win_arm64_runs_under_qemu_and_arm64_wine_and_says_so(pipeline_win_arm64):
    stages = _stages(pipeline_win_arm64)
    assert [(n, s["status"]) for n, s in stages.items()] == [
        ("build", "ok"), ("package", "ok"), ("apps", "ok"), ("verify", "ok"), ("share", "ok"), ("smoke", "ok")]
    share = stages["share"]["details"]
    assert share["run_mode"] == "qemu-wine"
    assert "emulated (qemu-user + wine arm64), one copy each" in stages["share"]["summary"]
    # qemu-user maps the guest's DLL from the file itself: the host sees it, and its pages shared.
    for process in share["processes"]:
        assert process["copies"] == 1 and process["same_file"] and process["text_shared_kib"] > 0
    results = stages["smoke"]["details"]["results"]
    assert {r["app"] for r in results} == {"hello", "alloc", "threads", "plugin_host"}
    assert {(r["how"], r["exit"]) for r in results} == {("emulated (qemu-user + wine arm64)", 0)}
    hello = next(r for r in results if r["app"] == "hello")  # the app that compares the runtime's path with its own
    assert hello["report"]["runtime_agrees"] is True


@pytest.mark.parametrize("fixture, arch, machine", [("pipeline_win_x64", "x64", "AMD64"),
                                                    ("pipeline_win_arm64", "arm64", "ARM64")])
def test_every_pe_agrees_with_llvm_readobj(request, fixture, arch, machine):
    files = _pe_files(request.getfixturevalue(fixture))
    assert len(files) == 7  # runtime, 4 exes, 2 plugins
    for path in files:
        binary = read_binary(path)
        assert (binary.format, binary.arch, binary.machine) == ("pe", arch, machine)
        assert model_readobj_view(binary) == readobj_view(path), path


def test_x64_pes_agree_with_objdump(pipeline_win_x64):
    for path in _pe_files(pipeline_win_x64):
        binary, objdump = read_binary(path), objdump_view(path)
        assert {(s.name, s.ordinal, s.forwarder) for s in binary.exports} == objdump.exports, path
        assert {lib: [s.name for s in syms] for lib, syms in binary.imports.items()} == {
            lib: [name for name, _ in syms] for lib, syms in objdump.imports.items()}, path


@pytest.mark.parametrize("fixture, rid", [("pipeline_win_x64", "win-x64"), ("pipeline_win_arm64", "win-arm64")])
def test_zip_holds_dll_import_library_and_exports_the_list(request, fixture, rid):
    pipeline = request.getfixturevalue(fixture)
    archive = pipeline["dist"] / f"runtime-base-10.0.0-ref.1-{rid}.zip"
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert {"manifest.json", "bin/Runtime.Base.dll", "lib/Runtime.Base.lib", "include/RuntimeBase.h"} <= set(names)
        assert all(i.create_system == 3 and i.extra == b"" and i.date_time >= (1980, 1, 1, 0, 0, 0) for i in infos)
        assert len({i.date_time for i in infos}) == 1
    manifest = schemas.load("manifest", pipeline["apps"] / "runtime" / "manifest.json")
    assert {(e["name"], e["kind"]) for e in manifest["exports"]} == {
        (e.name, "data" if e.data else "function") for e in read_exports()}
    assert manifest["link"] == ["lib/Runtime.Base.lib"]


def test_symbols_are_split_per_toolchain(pipeline_win_x64, pipeline_win_arm64):
    with zipfile.ZipFile(pipeline_win_x64["dist"] / "runtime-base-10.0.0-ref.1-win-x64-symbols.zip") as zf:
        assert zf.namelist() == ["bin/", "bin/Runtime.Base.dll.dbg"]
    with zipfile.ZipFile(pipeline_win_arm64["dist"] / "runtime-base-10.0.0-ref.1-win-arm64-symbols.zip") as zf:
        assert zf.namelist() == ["bin/", "bin/Runtime.Base.pdb"]
        assert zf.read("bin/Runtime.Base.pdb")[:32] == b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0"
