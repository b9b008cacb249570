"""Installed side by side: 10.0, 10.1 and 11.0 under one root, apps picked by the real loader
(natively, with the root registered in a private ld.so.cache seen only inside a private mount
namespace, so the host's /etc is never touched), the loader's refusal of a 10.1 app on 10.0, an
install killed at each step, and doctor's verdicts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_ci
from tests.e2e.test_abi import EPOCH, EXPORTS, HEADER, _checkout_copy

pytestmark = pytest.mark.e2e
RID = "linux-x64"
NEW_EXPORT = {
    EXPORTS: [("RhGetRuntimeVersion\n", "RhGetRuntimeVersion\nRhGetRuntimeMajorVersion @10.1\n")],
    HEADER: [("RUNTIME_BASE_API const char *RhGetRuntimeVersion(void);",
              "RUNTIME_BASE_API const char *RhGetRuntimeVersion(void);\nRUNTIME_BASE_API int32_t RhGetRuntimeMajorVersion(void);")],
    "reference/runtime/src/init.c": [("RUNTIME_BASE_API const char *RhGetRuntimeVersion(void)",
                                      "RUNTIME_BASE_API int32_t RhGetRuntimeMajorVersion(void)\n{\n    return 10;\n}\n\n"
                                      "RUNTIME_BASE_API const char *RhGetRuntimeVersion(void)")],
}
VERSIONS = {"10.0": ("10.0.0-ref.1", {}), "10.1": ("10.1.0-ref.1", NEW_EXPORT), "11.0": ("11.0.0-ref.1", {})}
APP = """#include "RuntimeBase.h"
#include <stdio.h>
int main(void)
{
    if (InitializeRuntimeBase())
        return 2;
#if NEEDS_MINOR
    printf("%s %d\\n", RhGetRuntimeVersion(), (int)RhGetRuntimeMajorVersion());
#else
    printf("%s 0\\n", RhGetRuntimeVersion());
#endif
    return 0;
}
"""


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, dict[str, Path]]:
    root = tmp_path_factory.mktemp("install")
    built = {}
    for name, (version, edits) in VERSIONS.items():
        checkout = _checkout_copy(root / name / "checkout", version, edits)
        build, dist = root / name / "build", root / name / "dist"
        for args in (["build", "--platform", RID, "--out", build], ["package", "--build", build, "--dist", dist]):
            done = run_ci(*args, cwd=checkout, env=EPOCH)
            assert done.returncode == 0, (name, done.stdout + done.stderr)
        built[name] = {"build": build, "archive": dist / f"runtime-base-{version}-{RID}.tar.gz"}
    return built


def _app(build: Path, out: Path, needs_minor: bool, rpath: Path | None = None) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    source = out.with_suffix(".c")
    source.write_text(APP)
    subprocess.run(["gcc", f"-DNEEDS_MINOR={int(needs_minor)}", f"-I{build / 'include'}", "-o", out, source,
                    build / "lib/libRuntime.Base.so", *([f"-Wl,-rpath,{rpath}"] if rpath else [])], check=True)
    return out


def _run_with_cache(app: Path, cache: Path) -> subprocess.CompletedProcess:
    """The app under the real loader, which reads `cache` as /etc/ld.so.cache (a private mount)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PATH")}
    return subprocess.run(["unshare", "-m", "sh", "-c", 'mount --bind "$1" /etc/ld.so.cache && exec "$2"', "-",
                           cache, app], capture_output=True, text=True, timeout=60, env={**env, "PATH": "/usr/bin:/bin"})


def test_two_majors_and_two_minors_side_by_side_chosen_by_the_real_loader(packages, tmp_path):
    root, etc = tmp_path / "R", tmp_path / "etc"
    (etc / "ld.so.conf.d").mkdir(parents=True)
    (etc / "ld.so.conf").write_text(f"include {etc}/ld.so.conf.d/*.conf\n")
    apps = {"10.0": _app(packages["10.0"]["build"], tmp_path / "a10.0/app", False),
            "10.1": _app(packages["10.1"]["build"], tmp_path / "a10.1/app", True),
            "11.0": _app(packages["11.0"]["build"], tmp_path / "a11.0/app", False)}
    done = run_ci("install", "--package", packages["10.0"]["archive"], "--root", root, "--register",
                  "--sysconfdir", etc)
    assert done.returncode == 0, done.stderr
    cache = etc / "ld.so.cache"
    assert run_ci("install", "--package", packages["11.0"]["archive"], "--root", root).returncode == 0
    subprocess.run(["ldconfig", "-X", "-f", etc / "ld.so.conf", "-C", cache], check=True)  # as --register does

    # a 10.1 app refuses at load on 10.0, with the loader's own message
    refused = _run_with_cache(apps["10.1"], cache)
    assert refused.returncode != 0 and "version `RUNTIME_BASE_10.1' not found" in refused.stderr, refused.stderr
    doctor = run_ci("doctor", apps["10.1"], "--ld-cache", cache)
    assert doctor.returncode == 1
    assert doctor.stdout.splitlines()[-1].startswith(
        "app needs Runtime.Base 10.1 or later (libRuntime.Base.so.10, RUNTIME_BASE_10.1), but the loader takes "), doctor.stdout
    assert "lacks RUNTIME_BASE_10.1" in doctor.stdout and "Runtime.Base 10.0.0-ref.1" in doctor.stdout

    assert run_ci("install", "--package", packages["10.1"]["archive"], "--root", root).returncode == 0
    subprocess.run(["ldconfig", "-X", "-f", etc / "ld.so.conf", "-C", cache], check=True)
    for name, expected in (("10.0", "10.1.0-ref.1 0"), ("10.1", "10.1.0-ref.1 10"), ("11.0", "11.0.0-ref.1 0")):
        ran = _run_with_cache(apps[name], cache)  # 10.0 rolls forward to 10.1; 11.0 keeps its own major
        assert (ran.returncode, ran.stdout.strip()) == (0, expected), (name, ran.stderr)
    assert run_ci("doctor", apps["10.1"], "--ld-cache", cache).returncode == 0
    moved = tmp_path / "elsewhere"
    apps["10.0"].parent.rename(moved)  # a moved app dir still runs: the registered root is not app-relative
    assert _run_with_cache(moved / "app", cache).stdout.startswith("10.1.0-ref.1")
    listed = run_ci("install", "--list", "--root", root).stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["11.0.0-ref.1", "10.1.0-ref.1", "10.0.0-ref.1"]
    assert [line.endswith("selected for major 10)") for line in listed] == [False, True, False]

    again = run_ci("install", "--package", packages["10.0"]["archive"], "--root", root)
    assert again.returncode == 2 and "never overwritten" in again.stderr
    assert run_ci("uninstall", "10.1.0-ref.1", "--root", root).returncode == 0
    assert os.readlink(root / "lib/libRuntime.Base.so.10").startswith("../shared/Runtime.Base/10.0.0-ref.1/")


def test_a_missing_runtime_is_one_line_naming_what_is_needed_and_where_it_looked(packages, tmp_path):
    app = _app(packages["10.1"]["build"], tmp_path / "bin/app", True, rpath=tmp_path / "nowhere")
    empty_cache = tmp_path / "none.cache"
    done = run_ci("doctor", app, "--ld-cache", empty_cache, "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["verdict"] == "not found"
    assert [p["how"] for p in result["places"]][:2] == ["DT_RUNPATH", "ld.so.cache"]
    assert result["summary"].startswith("app needs Runtime.Base 10.1 or later (libRuntime.Base.so.10, "
                                        f"RUNTIME_BASE_10.1): not found in {tmp_path / 'nowhere'} (DT_RUNPATH)")
    assert "python -m ci install --package runtime-base-<version>-linux-x64.tar.gz" in result["summary"]
    assert "\n" not in result["summary"]
    ran = subprocess.run([app], capture_output=True, text=True, env={})  # the real loader agrees
    assert ran.returncode == 127 and "libRuntime.Base.so.10: cannot open shared object file" in ran.stderr


@pytest.mark.parametrize("point", ["install-unpacked", "install-renamed", "install-link-made"])
def test_an_install_killed_at_any_step_leaves_the_previous_state_whole(packages, tmp_path, point):
    root = tmp_path / "R"
    assert run_ci("install", "--package", packages["10.0"]["archive"], "--root", root).returncode == 0
    before = os.readlink(root / "lib/libRuntime.Base.so.10")
    killed = run_ci("install", "--package", packages["10.1"]["archive"], "--root", root,
                    env={"RUNTIME_BASE_CI_KILL_AT": point})
    assert killed.returncode == -9
    link = os.readlink(root / "lib/libRuntime.Base.so.10")
    assert link == before or "10.1.0-ref.1" in link  # the old selection or the new one, never a broken link
    assert (root / "lib" / link).resolve().is_file()
    again = run_ci("install", "--package", packages["10.1"]["archive"], "--root", root)
    if point == "install-unpacked":  # killed before the rename: nothing of 10.1 was visible
        assert link == before and again.returncode == 0, again.stderr
    else:  # 10.1 was installed whole; the next run says so, and the links are made again by any run
        assert again.returncode == 2 and "already installed" in again.stderr
        assert run_ci("uninstall", "10.1.0-ref.1", "--root", root).returncode == 0
        assert run_ci("install", "--package", packages["10.1"]["archive"], "--root", root).returncode == 0
    assert "10.1.0-ref.1" in os.readlink(root / "lib/libRuntime.Base.so.10")
    assert not [p for p in (root / "shared/Runtime.Base").iterdir() if p.name.startswith(".staging-")]


def test_under_qemu_the_real_arm64_loader_rolls_forward_and_refuses_a_newer_minor(tmp_path):
    """linux-arm64 under qemu-aarch64 -L: the installed root reached through the app's RUNPATH (the
    arm64 ldconfig that would build a cache for it is not on this x86_64 machine)."""
    rid, built = "linux-arm64", {}
    for name in ("10.0", "10.1"):
        version, edits = VERSIONS[name]
        checkout = _checkout_copy(tmp_path / name / "checkout", version, edits)
        build, dist = tmp_path / name / "build", tmp_path / name / "dist"
        for args in (["build", "--platform", rid, "--out", build], ["package", "--build", build, "--dist", dist]):
            done = run_ci(*args, cwd=checkout, env=EPOCH)
            assert done.returncode == 0, (name, done.stdout + done.stderr)
        built[name] = (build, dist / f"runtime-base-{version}-{rid}.tar.gz")
    root = tmp_path / "R"
    assert run_ci("install", "--package", built["10.0"][1], "--root", root).returncode == 0
    apps = {}
    for name, needs_minor in (("10.0", False), ("10.1", True)):
        out = tmp_path / f"a{name}/app"
        out.parent.mkdir()
        out.with_suffix(".c").write_text(APP)
        subprocess.run(["aarch64-linux-gnu-gcc", f"-DNEEDS_MINOR={int(needs_minor)}", f"-I{built[name][0] / 'include'}",
                        "-o", out, out.with_suffix(".c"), built[name][0] / "lib/libRuntime.Base.so",
                        f"-Wl,-rpath,{root / 'lib'}"], check=True)
        apps[name] = out

    def qemu(app: Path) -> subprocess.CompletedProcess:
        return subprocess.run(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", app], capture_output=True, text=True,
                              timeout=120, env={})

    refused = qemu(apps["10.1"])
    assert refused.returncode != 0 and "version `RUNTIME_BASE_10.1' not found" in refused.stderr, refused.stderr
    doctor = run_ci("doctor", apps["10.1"], "--json")
    assert doctor.returncode == 1 and json.loads(doctor.stdout)["verdict"] == "too old"
    assert run_ci("install", "--package", built["10.1"][1], "--root", root).returncode == 0
    moved = tmp_path / "moved"
    apps["10.0"].parent.rename(moved)
    for app, expected in ((moved / "app", "10.1.0-ref.1 0"), (apps["10.1"], "10.1.0-ref.1 10")):
        ran = qemu(app)
        assert (ran.returncode, ran.stdout.strip()) == (0, expected), ran.stderr
    assert run_ci("doctor", apps["10.1"]).returncode == 0
