"""The fork's build, driven for real up to the process boundary, with a STAND-IN build.sh.

The stand-in (tests/fixtures/stand_in/build.sh) prints "stand-in for the fork's build.sh" first and
builds nothing real: these tests check the driver (log, tail, exit code, timeout, Ctrl-C, cache)
and everything after the build (real clang/lld link from the generated response files, real
objcopy split, BuildOutput, package). A stand-in run is never counted as the fork's build.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from contextlib import suppress
from pathlib import Path

import psutil
import pytest

from ci import platforms
from ci.cli import main as cli_main
from ci.core.errors import CiError
from ci.redist.package import package
from ci.runtime import exports
from ci.runtime.fork import driver as fork_build
from ci.runtime.fork import link as fork_link
from ci.runtime.fork import linkplan
from ci.runtime.fork.layout import ForkLayout
from ci.runtime.output import BuildOutput
from tests.conftest import REPO, default_sigint
from tests.fixtures.fake_fork import (
    MAIN_CPP_SPLIT,
    make_fake_windows,
    make_fork,
    products_file,
    touch,
)

LINUX_X64 = platforms.get_platform("linux-x64")
BANNER = "stand-in for the fork's build.sh"
@pytest.fixture
def checkout(tmp_path) -> Path:
    """The fixture fork with DLL_IMPORT defined for Linux: the real fork has no Linux split yet,
    so a Linux build from it stops at the check (test_the_linux_leg_stops_before_the_build...)."""
    return make_fork(tmp_path / "fork", MAIN_CPP_SPLIT)


@pytest.fixture
def stand_in(tmp_path, monkeypatch) -> Path:
    """The stand-in's environment; returns the file where it records each run's arguments."""
    for name in ("STAND_IN_MODE", "STAND_IN_PRODUCTS", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STAND_IN_RUNS", str(tmp_path / "runs.txt"))
    monkeypatch.setenv("PYTHON", sys.executable)
    return tmp_path / "runs.txt"


def runs(record: Path) -> list[str]:
    return record.read_text().splitlines() if record.exists() else []


def ci_main(monkeypatch, *argv: str | Path) -> int:
    """`python -m ci ARGV` in this process."""
    return cli_main([str(a) for a in argv])


def assert_gone(pids: list[int]) -> None:
    """No process of the build is left (killed and reaped)."""
    procs = []
    for pid in pids:
        with suppress(psutil.NoSuchProcess):
            procs.append(psutil.Process(pid))
    _, alive = psutil.wait_procs(procs, timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive


# --- the driver: log, progress, failure, timeout, Ctrl-C ------------------------------------


def test_the_build_goes_to_a_log_with_progress(checkout, stand_in, tmp_path):
    seen = []
    log = tmp_path / "logs" / "build.log"
    cmd = fork_build.command(fork_build.BuildRequest(checkout, LINUX_X64))
    fork_build.run_logged(cmd, log, watch=lambda n, elapsed, last: seen.append((n, last)))
    lines = log.read_text().splitlines()
    assert lines[0] == f"{BANNER}: -s clr.aot+libs -rc Release -lc Release -a x64 -os linux -bl"
    assert seen[-1] == (2, "stand-in done") and runs(stand_in) == [lines[0].split(": ", 1)[1]]


def test_a_failure_ends_with_the_logs_tail_and_path(checkout, stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("STAND_IN_MODE", "fail")
    log = tmp_path / "build.log"
    with pytest.raises(CiError) as caught:
        fork_build.run_logged(fork_build.command(fork_build.BuildRequest(checkout, LINUX_X64)), log)
    lines = caught.value.message.splitlines()
    assert lines[0].startswith(f"fork build failed (exit 3): {checkout / 'build.sh'} -s clr.aot+libs")
    assert lines[1:-1] == [f"    stand-in build line {i}" for i in range(72, 101)] + ["    stand-in error: the build failed"]
    assert lines[-1] == f"log: {log}"
    assert len(log.read_text().splitlines()) == 102  # the whole output is in the log


def blocking_stand_in(tmp_path: Path, monkeypatch, ready: Path) -> None:
    """The stand-in reports its pids to `ready`, then it and a child block on a FIFO nobody writes."""
    os.mkfifo(tmp_path / "block.fifo")
    monkeypatch.setenv("STAND_IN_MODE", "block")
    monkeypatch.setenv("STAND_IN_BLOCK", str(tmp_path / "block.fifo"))
    monkeypatch.setenv("STAND_IN_READY", str(ready))


def test_a_timeout_kills_the_whole_process_group(checkout, stand_in, tmp_path, monkeypatch):
    blocking_stand_in(tmp_path, monkeypatch, tmp_path / "pids.txt")
    with pytest.raises(CiError, match=r"^fork build timed out after 1s: killed its process group\n"):
        fork_build.run_logged(fork_build.command(fork_build.BuildRequest(checkout, LINUX_X64)), tmp_path / "b.log",
                              timeout=1.0)
    pids = [int(p) for p in (tmp_path / "pids.txt").read_text().split()]
    assert len(pids) == 2
    assert_gone(pids)


def test_ctrl_c_kills_the_whole_process_group_and_exits_130(checkout, stand_in, tmp_path, monkeypatch):
    ready = tmp_path / "ready.fifo"
    os.mkfifo(ready)
    blocking_stand_in(tmp_path, monkeypatch, ready)
    driver = subprocess.Popen([sys.executable, "-m", "ci", "build", "--runtime-repo", checkout,
                               "--platform", "linux-x64", "--out", tmp_path / "out"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=default_sigint)
    pids: list[int] = []
    reader = threading.Thread(target=lambda: pids.extend(int(p) for p in ready.read_text().split()), daemon=True)
    reader.start()
    reader.join(timeout=60)  # returns as soon as the stand-in has written its pids
    if reader.is_alive():  # the driver never started the build: unblock the reader, show why
        ready.write_text("")
        driver.kill()
        pytest.fail(driver.communicate()[1])
    driver.send_signal(signal.SIGINT)
    _, stderr = driver.communicate(timeout=60)
    assert driver.returncode == 130, stderr
    log = checkout / fork_build.STATE_DIR / "build-linux-x64-Release-Release.log"
    assert stderr.splitlines() == [f"error: interrupted: killed the fork build's process group (log: {log})"]
    assert_gone(pids)


# --- the cache ------------------------------------------------------------------------------


def test_an_unchanged_checkout_is_not_rebuilt(checkout, stand_in, monkeypatch):
    request = fork_build.BuildRequest(checkout, LINUX_X64)
    assert fork_build.run_fork_build(request) and len(runs(stand_in)) == 1
    assert not fork_build.run_fork_build(request) and len(runs(stand_in)) == 1  # same key as the last success
    assert fork_build.run_fork_build(request, force=True) and len(runs(stand_in)) == 2
    touch(checkout / "src/coreclr/nativeaot/Runtime/AsmOffsets.h", "changed\n")
    assert fork_build.run_fork_build(request) and len(runs(stand_in)) == 3

    monkeypatch.setenv("STAND_IN_MODE", "fail")
    with pytest.raises(CiError):
        fork_build.run_fork_build(request, force=True)
    monkeypatch.setenv("STAND_IN_MODE", "ok")
    assert fork_build.run_fork_build(request) and len(runs(stand_in)) == 5  # a failure is not a success to reuse


# --- after the build: link, split, build output, package ------------------------------------


def stand_in_products(checkout: Path, out: Path, monkeypatch, tmp_path: Path, configuration: str = "Debug") -> None:
    """Tell the stand-in to make every file the Runtime.Base link and the C# apps need."""
    layout = ForkLayout(checkout, LINUX_X64, configuration)
    plan = linkplan.make_plan(layout, linkplan.linux_tools(LINUX_X64), out, linkplan.sample_names())
    products = [*dict.fromkeys(i for part in plan.parts for i in part.inputs), *linkplan.sdk_files(layout).values()]
    monkeypatch.setenv("STAND_IN_PRODUCTS", str(products_file(tmp_path / "products.json", products,
                                                              folders=[layout.framework.path])))


def test_linux_x64_from_the_fork_to_a_package(checkout, stand_in, tmp_path, monkeypatch):
    out = tmp_path / "build output"  # a space: the response files must quote it
    stand_in_products(checkout, out, monkeypatch, tmp_path)
    built, rebuilt = fork_link.build_runtime_base(checkout, LINUX_X64, out, "Debug")
    assert rebuilt and len(runs(stand_in)) == 1
    assert BuildOutput.read(out) == built
    assert (built.library, built.link, built.debug) == (
        "lib/libRuntime.Base.so.10.0.0", ("lib/libRuntime.Base.so",), ("lib/libRuntime.Base.so.10.0.0.dbg",))
    assert fork_link.build_runtime_base(checkout, LINUX_X64, out, "Debug")[1] is False and len(runs(stand_in)) == 1

    pkg = package(out, tmp_path / "dist")
    manifest = json.loads(pkg.manifest.read_text())
    assert manifest["source"] == {"kind": "fork", "commit": built.source.commit, "dirty": False}
    assert manifest["version"] == f"10.0.0-fork.{built.source.commit[:12]}" and manifest["soname"] == "libRuntime.Base.so.10"
    # Names only: on Linux ILC's arguments carry no DATA, so the stand-in ILC defines every symbol as a function.
    assert sorted(e["name"] for e in manifest["exports"]) == sorted(e.name for e in exports.read_exports())
    debuglink = subprocess.run(["readelf", "--string-dump=.gnu_debuglink", out / built.library],
                               check=False, capture_output=True, text=True, errors="replace")
    assert "libRuntime.Base.so.10.0.0.dbg" in debuglink.stdout


def test_missing_outputs_after_the_build_name_their_build_step(checkout, stand_in, tmp_path, monkeypatch, capsys):
    code = ci_main(monkeypatch, "build", "--runtime-repo", checkout, "--platform", "linux-x64", "--out", tmp_path / "out")
    error = capsys.readouterr().err
    assert code == 2 and len(error.splitlines()) == 1 and len(runs(stand_in)) == 1
    assert "artifacts/bin/coreclr/linux.x64.Release/ilc-published/ilc missing: built by subset clr.aot (clr.tools)" in error
    assert "libaotminipal.a missing: built by subset clr.aot (clr.nativeaotruntime)" in error


def test_the_linux_leg_stops_before_the_build_when_the_split_is_missing(tmp_path, stand_in, monkeypatch, capsys):
    checkout = make_fork(tmp_path / "fork")  # the fork as it is
    code = ci_main(monkeypatch, "build", "--runtime-repo", checkout, "--platform", "linux-x64", "--out", tmp_path / "out")
    error = capsys.readouterr().err
    assert code == 1 and runs(stand_in) == []
    assert error.startswith("error: linux-x64: the fork has no Linux split yet, so nothing was built: ")
    assert "main.cpp:" in error and "declares InitializeRuntimeBase with DLL_IMPORT, which is undefined for non-Windows" in error
    assert len(error.splitlines()) == 1


# --- plan: a dry run ------------------------------------------------------------------------


def test_plan_writes_response_files_and_prints_every_command_without_running_any(checkout, stand_in, tmp_path,
                                                                                  monkeypatch, capsys):
    out = tmp_path / "plan"
    assert ci_main(monkeypatch, "plan", "--runtime-repo", checkout, "--platform", "linux-x64", "--out", out) == 0
    printed = capsys.readouterr().out
    assert runs(stand_in) == [] and not (out / "lib").exists()
    assert f"{checkout / 'build.sh'} -s clr.aot+libs -rc Release -lc Release -a x64 -os linux -bl" in printed
    for name in ("Runtime.Base", *linkplan.sample_names()):
        assert (out / "rsp" / f"{name}.ilc.rsp").is_file() and (out / "rsp" / f"{name}.link.rsp").is_file()
        assert f"@{out / 'rsp' / name}.link.rsp" in printed
    assert "not built yet: " in printed and "missing: built by subset" in printed


@pytest.mark.parametrize("rid", ["win-x64", "win-arm64"])
def test_plan_accepts_the_fork_as_it_is_for_windows(rid, stand_in, tmp_path, monkeypatch, capsys):
    checkout = make_fork(tmp_path / "fork")  # the real fork's layout: main.cpp, no Linux split
    fake = make_fake_windows(tmp_path / "windows")
    out = tmp_path / "plan"
    assert ci_main(monkeypatch, "plan", "--runtime-repo", checkout, "--platform", rid, "--out", out,
                   "--vswhere", fake["vswhere"], "--windows-kits", fake["kits"]) == 0
    printed = capsys.readouterr().out
    arch = rid.split("-")[1]
    assert f"cmd.exe /c {checkout / 'build.cmd'} -s clr.aot+libs -rc Release -lc Release -a {arch} -os windows -bl" in printed
    link = fake["vs"] / f"VC/Tools/MSVC/14.41.34120/bin/Hostx64/{arch}/link.exe"  # built on x64 runners
    assert f"'{link}' @{out / 'rsp' / 'Runtime.Base'}.link.rsp" in printed  # quoted: the path has spaces
    assert sorted(p.name for p in (out / "rsp").iterdir()) == sorted(
        ["Runtime.Base.def"] + [f"{n}.{t}.rsp" for n in ("Runtime.Base", *linkplan.sample_names()) for t in ("ilc", "link")])
    app_link = (out / "rsp" / "hello.link.rsp").read_text().splitlines()
    assert any(line.endswith("bootstrapperoutplace.obj") for line in app_link)


@pytest.mark.parametrize("rid", ["win-x64", "win-arm64"])
def test_plan_off_windows_leaves_visual_studio_and_the_sdk_to_the_windows_host(rid, stand_in, tmp_path, monkeypatch, capsys):
    """No vswhere here: every command and response file is still written, the MSVC and Windows SDK
    paths marked as resolved on the Windows host (the arm64 link with the x64-hosted cross tools)."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    checkout = make_fork(tmp_path / "fork")
    out = tmp_path / "plan"
    assert ci_main(monkeypatch, "plan", "--runtime-repo", checkout, "--platform", rid, "--out", out) == 0
    printed = " ".join(capsys.readouterr().out.split())
    arch = rid.split("-")[1]
    assert f"cmd.exe /c {checkout / 'build.cmd'} -s clr.aot+libs -rc Release -lc Release -a {arch} -os windows -bl" in printed
    assert "Windows SDK paths: <...resolved on the Windows host>" in printed
    link = (f"<MSVC: vswhere -requires {linkplan.VC_COMPONENTS[arch]}, resolved on the Windows host>"
            f"\\bin\\Hostx64\\{arch}\\link.exe")
    assert f"@{out / 'rsp' / 'Runtime.Base'}.link.rsp" in printed and link in printed
    rsp = (out / "rsp" / "Runtime.Base.link.rsp").read_text()
    assert f"\\um\\{arch}" in rsp and f"\\ucrt\\{arch}" in rsp and rsp.count("resolved on the Windows host") == 3
    assert sorted(p.name for p in (out / "rsp").iterdir()) == sorted(
        ["Runtime.Base.def"] + [f"{n}.{t}.rsp" for n in ("Runtime.Base", *linkplan.sample_names()) for t in ("ilc", "link")])


def test_plan_refuses_linux_with_one_line_naming_main_cpp_and_dll_import(stand_in, tmp_path, monkeypatch, capsys):
    checkout = make_fork(tmp_path / "fork")
    code = ci_main(monkeypatch, "plan", "--runtime-repo", checkout, "--platform", "linux-x64", "--out", tmp_path / "plan")
    captured = capsys.readouterr()
    assert code == 1 and not (tmp_path / "plan").exists()
    assert len(captured.err.splitlines()) == 1
    assert captured.err.startswith("error: linux-x64: the fork has no Linux split yet, so nothing was built: "
                                   "src/coreclr/nativeaot/Bootstrap/main.cpp:")
    assert "with DLL_IMPORT, which is undefined for non-Windows targets" in captured.err
    assert "fix: define DLL_IMPORT for non-Windows targets too, e.g. in the #else branch at main.cpp:" in captured.err


# --- the CI cache: what fork.yml restores lets an unchanged commit skip the build ------------


def test_the_cached_paths_alone_let_a_fresh_clone_skip_the_build(checkout, stand_in, tmp_path, monkeypatch, capsys):
    stand_in_products(checkout, tmp_path / "unused", monkeypatch, tmp_path, configuration="Release")
    request = fork_build.BuildRequest(checkout, LINUX_X64)
    assert fork_build.run_fork_build(request) and len(runs(stand_in)) == 1
    github_output = tmp_path / "github_output"
    assert ci_main(monkeypatch, "fork-cache", "--runtime-repo", checkout, "--platform", "linux-x64",
                   "--relative-to", checkout.parent, "--github-output", github_output) == 0
    text = github_output.read_text()
    key = text.split("key=", 1)[1].splitlines()[0]
    assert key == f"fork-build-linux-x64-Release-Release-{fork_build.cache_key(request)}"
    paths = text.split("paths<<RUNTIME_BASE_CI_EOF\n", 1)[1].split("\nRUNTIME_BASE_CI_EOF", 1)[0].splitlines()
    assert paths and all(p.startswith(f"{checkout.name}/artifacts/") for p in paths)  # build outputs only
    # A fresh clone of the same commit, with only the cached paths restored (as actions/cache does).
    clone = tmp_path / "clone" / checkout.name
    subprocess.run(["git", "clone", "-q", str(checkout), str(clone)], check=True)
    for rel in paths:
        source, target = checkout.parent / rel, clone.parent / rel
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    # The clone's stand-in files are committed, so its tree is the same commit with no changes.
    cloned = fork_build.BuildRequest(clone, LINUX_X64)
    assert fork_build.cache_key(cloned) == fork_build.cache_key(request)
    plan = linkplan.make_plan(ForkLayout(clone, LINUX_X64, "Release"), linkplan.linux_tools(LINUX_X64), tmp_path / "o")
    products = [p.path for p in (*plan.runtime.inputs, *linkplan.sdk_files(ForkLayout(clone, LINUX_X64, "Release")).values())]
    assert not fork_build.run_fork_build(cloned, products) and len(runs(stand_in)) == 1  # skipped


def test_fork_check_is_a_status_line_not_a_failure(tmp_path, monkeypatch, capsys):
    as_is, split = make_fork(tmp_path / "as-is"), make_fork(tmp_path / "split", MAIN_CPP_SPLIT)
    github_output = tmp_path / "github_output"
    assert ci_main(monkeypatch, "fork-check", "--runtime-repo", as_is, "--platform", "linux-x64",
                   "--github-output", github_output) == 0
    printed = capsys.readouterr().out.replace("\n", "")
    assert printed.startswith("linux-x64: blocked: the fork has no Linux split yet (src/coreclr/nativeaot/Bootstrap/main.cpp:")
    assert "ready=false\nstatus=blocked: " in github_output.read_text()
    assert ci_main(monkeypatch, "fork-check", "--runtime-repo", split, "--platform", "linux-x64") == 0
    assert capsys.readouterr().out.startswith("linux-x64: ready: ")
    assert ci_main(monkeypatch, "fork-check", "--runtime-repo", as_is, "--platform", "win-arm64") == 0
    assert capsys.readouterr().out.startswith("win-arm64: ready: ")
