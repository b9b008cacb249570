"""Self-contained twins: every sample app with a private runtime linked in, side by side in one
process the way stock NativeAOT libraries are, while the shared runtime stays one per process."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ci.binaries import read_binary
from ci.runtime.exports import read_exports

RUNTIME_NAMES = {e.name for e in read_exports()}


def _run(exe, *prefix) -> dict:
    done = subprocess.run([*prefix, exe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("rid", ["linux-x64", "linux-arm64"])
def test_twins_need_no_runtime_library_and_export_none_of_its_names(savings_run, rid):
    twins = sorted(p for p in (savings_run["build"] / rid / "twins" / "bin").rglob("*") if p.is_file())
    assert len(twins) == 6
    for path in twins:
        binary = read_binary(path)
        assert "libRuntime.Base.so" not in binary.needed, path
        assert not binary.export_names & RUNTIME_NAMES, path
    static = savings_run["build"] / rid / "runtime-static" / "lib" / "libRuntime.Base.a"
    members = subprocess.run(["ar", "t", static], capture_output=True, text=True, check=True).stdout.split()
    assert "init.o" in members and "gc.o" in members


def test_a_twin_is_its_own_runtime(savings_run):
    exe = savings_run["build"] / "linux-x64" / "twins" / "bin" / "hello"
    report = _run(exe)
    assert report["runtime_path"] == str(exe.resolve()) and report["runtime_agrees"] is True


def test_two_private_plugins_in_one_process_each_run_their_own_gc(savings_run):
    twin = _run(savings_run["build"] / "linux-x64" / "twins" / "bin" / "plugin_host")
    split = _run(savings_run["build"] / "linux-x64" / "apps" / "bin" / "plugin_host")
    twin_instances = {twin["instance"], *(p["instance"] for p in twin["plugins"])}
    assert len(twin_instances) == 3  # the host's private runtime and one in each plugin
    assert {p["instance"] for p in split["plugins"]} == {split["instance"]}
    # Each plugin's garbage was collected by its own runtime; the host's private GC saw none of it.
    assert [p["collections"] for p in twin["plugins"]] == [1, 1] and twin["collections"] == 0
    assert split["collections"] >= 1
    assert all(p["heap_reserved_bytes"] == twin["heap_reserved_bytes"] > 0 for p in twin["plugins"])


def test_twins_run_side_by_side_under_qemu(savings_run):
    exe = savings_run["build"] / "linux-arm64" / "twins" / "bin" / "plugin_host"
    report = _run(exe, "qemu-aarch64", "-L", "/usr/aarch64-linux-gnu")
    assert len({report["instance"], *(p["instance"] for p in report["plugins"])}) == 3


def test_a_private_plugin_beside_the_shared_runtime_neither_refuses(savings_run, tmp_path):
    """The shared runtime cannot see a private copy (its exports are hidden), nor it the shared one."""
    apps = tmp_path / "apps"
    shutil.copytree(savings_run["build"] / "linux-x64" / "apps", apps, symlinks=True)
    shutil.copyfile(savings_run["build"] / "linux-x64" / "twins" / "bin" / "plugins" / "libplugin_b.so",
                    apps / "bin" / "plugins" / "libplugin_b.so")
    report = _run(apps / "bin" / "plugin_host")
    shared, private = report["plugins"]
    assert shared["instance"] == report["instance"] and Path(shared["runtime_path"]).name.startswith("libRuntime.Base.so")
    assert private["instance"] != report["instance"]
    assert private["runtime_path"] == str((apps / "bin" / "plugins" / "libplugin_b.so").resolve())


def test_windows_twins_import_no_runtime_dll_and_run_side_by_side_under_wine(savings_windows):
    for rid, machine in (("win-x64", "AMD64"), ("win-arm64", "ARM64")):
        twins = sorted(p for p in (savings_windows["build"] / rid / "twins" / "bin").rglob("*")
                       if p.suffix in (".exe", ".dll"))
        assert len(twins) == 6
        for path in twins:
            binary = read_binary(path)
            assert binary.machine == machine
            assert "runtime.base.dll" not in [n.lower() for n in binary.needed], path
            assert not binary.export_names & RUNTIME_NAMES, path
    wine, arm64 = (savings_windows["report"]["platforms"][rid] for rid in ("win-x64", "win-arm64"))
    assert wine["how"] == "emulated (wine)" and wine["ok"]
    host = wine["plugin_host"]
    assert (host["split"]["runtime_instances"], host["self_contained"]["runtime_instances"]) == (1, 3)
    assert host["self_contained"]["heap_reserved_kib"] == 3 * host["split"]["heap_reserved_kib"]
    assert arm64["how"] == "emulated (qemu-user + wine arm64)" and arm64["ok"]
    arm64_host = arm64["plugin_host"]
    assert (arm64_host["split"]["runtime_instances"], arm64_host["self_contained"]["runtime_instances"]) == (1, 3)
    assert arm64["disk"]["break_even_n"] >= 1
