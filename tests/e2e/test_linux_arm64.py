"""linux-arm64 on this x86_64 machine: cross-built, verified, and run under qemu-user, said so."""

from __future__ import annotations

import json

from ci.binaries import read_binary
from ci.core import schemas
from tests.conftest import run_ci
from tests.readelf_view import model_view, readelf_view


def test_every_stage_passes_and_says_how_it_ran(pipeline_arm64):
    report = schemas.load("report", pipeline_arm64["dist"] / "report.json")
    stages = {s["stage"]: s for s in report["stages"]}
    assert [s["status"] for s in report["stages"]] == ["ok"] * 6
    assert stages["share"]["details"]["run_mode"] == "qemu-user"
    assert stages["share"]["details"]["pss_saved_kib"] > 0
    assert {r["how"] for r in stages["smoke"]["details"]["results"]} == {"emulated (qemu-user)"}
    assert "emulated (qemu-user)" in stages["smoke"]["summary"]


def test_binaries_are_arm64_and_the_model_agrees_with_readelf(pipeline_arm64):
    binaries = [p for p in pipeline_arm64["apps"].rglob("*")
                if p.is_file() and not p.is_symlink() and p.read_bytes()[:4] == b"\x7fELF"]  # not the dev link
    assert len(binaries) == 7
    for path in binaries:
        binary = read_binary(path)
        assert (binary.arch, binary.machine) == ("arm64", "EM_AARCH64")
        assert model_view(binary) == readelf_view(path), path


def test_verify_reports_an_architecture_mismatch(pipeline, pipeline_arm64):
    x64_runtime = pipeline["apps"] / "runtime/lib/libRuntime.Base.so"
    arm64_app = pipeline_arm64["apps"] / "bin/hello"
    done = run_ci("verify", "--runtime", x64_runtime, "--app", arm64_app, "--json")
    assert done.returncode == 1
    problems = [v["problem"] for v in json.loads(done.stdout)["violations"]]
    assert "architecture elf/arm64 does not match Runtime.Base's elf/x64" in problems
