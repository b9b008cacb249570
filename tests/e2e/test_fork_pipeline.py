"""The whole job from a fork checkout, end to end: build, package (runtime + SDK archives), the C#
samples built from the two packages only, verify, share and smoke on them.

The fork here is the STAND-IN fork (tests/fixtures/fake_fork.py + stand_in/): its build.sh,
ILC and dotnet.sh say they are stand-ins and compile real objects with the real C compiler; the
bootstrapper object is compiled from the checkout's own main.cpp; the link is the real clang/lld
(or gcc/ld) from the generated response files. It is the variant with DLL_IMPORT defined for Linux
(MAIN_CPP_SPLIT): the real fork has no Linux split yet, so a Linux run needs it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ci.checks import csharp_apps
from ci.platforms import get_platform
from ci.redist.checksums import read_sums
from ci.runtime.fork import linkplan
from ci.runtime.fork.layout import ForkLayout
from ci.runtime.output import DEFAULT_CONFIGURATION
from tests.conftest import REPO
from tests.fixtures.fake_fork import MAIN_CPP_SPLIT, make_fork, products_file

LINUX_X64 = get_platform("linux-x64")


def stand_in_env(checkout: Path, tmp_path: Path) -> dict[str, str]:
    """The stand-in build makes every product the runtime link and the SDK package need."""
    layout = ForkLayout(checkout, LINUX_X64, DEFAULT_CONFIGURATION)
    plan = linkplan.make_plan(layout, linkplan.linux_tools(LINUX_X64), tmp_path / "unused", linkplan.sample_names())
    products = [*dict.fromkeys(i for part in plan.parts for i in part.inputs), *linkplan.sdk_files(layout).values()]
    listing = products_file(tmp_path / "products.json", products, folders=[layout.framework.path])
    return {"STAND_IN_PRODUCTS": str(listing), "PYTHON": sys.executable}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    tmp_path = tmp_path_factory.mktemp("fork-pipeline")
    checkout = make_fork(tmp_path / "fork", MAIN_CPP_SPLIT)
    dist, build = tmp_path / "dist", tmp_path / "build"
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("RUNTIME_REPO", "GITHUB_ACTIONS")}
    done = subprocess.run(
        [sys.executable, "-m", "ci", "pipeline", "--runtime-repo", str(checkout), "--platform", "linux-x64",
         "--check", "verify", "--check", "share", "--check", "smoke", "--build-dir", str(build), "--dist", str(dist)],
        cwd=REPO, env={**env, **stand_in_env(checkout, tmp_path)}, capture_output=True, text=True, timeout=600)
    report = json.loads((dist / "report.json").read_text()) if (dist / "report.json").exists() else {}
    return {"done": done, "report": report, "dist": dist, "build": build, "checkout": checkout}


def stage(run: dict, name: str) -> dict:
    return next(s for s in run["report"]["stages"] if s["stage"] == name)


def test_every_stage_passes(run):
    done = run["done"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert [(s["stage"], s["status"]) for s in run["report"]["stages"]] == [
        ("build", "ok"), ("package", "ok"), ("apps", "ok"), ("verify", "ok"), ("share", "ok"), ("smoke", "ok")]


def test_every_stage_says_which_stand_ins_ran_in_the_table_and_the_report(run):
    for s in run["report"]["stages"]:
        assert "ilc" in s["details"]["stand_in"] and "build.sh" in s["details"]["stand_in"], s["stage"]
        assert "[stand-in: " in s["summary"], s
    assert "dotnet.sh" in stage(run, "apps")["details"]["stand_in"]
    assert run["done"].stdout.count("stand-in") >= 6  # one per row of the table


def test_package_writes_the_runtime_and_the_sdk_archive_listed_in_manifest_and_sums(run):
    dist = run["dist"]
    sdk = next(dist.glob("runtime-base-sdk-*-linux-x64.tar.gz"))
    runtime = next(p for p in dist.glob("runtime-base-*-linux-x64.tar.gz") if p != sdk and "symbols" not in p.name)
    manifest = json.loads(next(dist.glob("runtime-base-*.manifest.json")).read_text())
    sums = read_sums(dist / "SHA256SUMS")
    assert manifest["sdk"] == {"archive": sdk.name, "sha256": sums[sdk.name]} and runtime.name in sums
    with tarfile.open(sdk) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "tools/ilc", "framework/System.Private.CoreLib.dll", "framework/System.Runtime.dll",
            "framework/libSystem.Native.a", "sdk/libbootstrapperoutplace.o", "sdk/libaotminipal.a",
            "sdk/System.Private.TypeLoader.dll"} <= names
    assert not any(n.startswith(("artifacts/", "src/")) for n in names)


def test_the_csharp_samples_are_built_from_the_packages_only_and_run(run):
    apps_root = run["build"] / "linux-x64" / "apps"
    apps = json.loads((apps_root / "apps.json").read_text())["apps"]
    csharp = sorted(a["name"] for a in apps if a["path"].startswith("csharp/"))
    assert csharp == sorted(csharp_apps.app_name(n) for n in linkplan.sample_names())
    # Every input of their ILC and link steps is in the unpacked packages (or the apps' own work).
    for sample in linkplan.sample_names():
        for rsp in (apps_root / "csharp" / "rsp").glob(f"{sample}.*.rsp"):
            for line in rsp.read_text().splitlines():
                path = line.strip('"').split(":", 1)[-1] if line.startswith(("-r:", "-o:")) else line.strip('"')
                if path.startswith("/"):
                    assert path.startswith(str(apps_root)), (rsp.name, line)
    smoke = stage(run, "smoke")["details"]["results"]
    ran = {r["app"]: r for r in smoke}
    for name in csharp:
        assert ran[name]["exit"] == 0 and ran[name]["report"]["stand_in"] is True
        assert Path(ran[name]["report"]["runtime_path"]) == (apps_root / "runtime").resolve() / "lib" / "libRuntime.Base.so.10.0.0"
    shared = {p["app"] for p in stage(run, "share")["details"]["processes"]}
    assert set(csharp) <= shared
    verified = stage(run, "verify")["details"]["apps"]
    assert len(verified) == len(apps)


def test_a_changed_sdk_archive_is_refused_in_one_line(run, tmp_path):
    dist = tmp_path / "dist"
    shutil.copytree(run["dist"], dist)
    sdk = next(dist.glob("runtime-base-sdk-*.tar.gz"))
    sdk.write_bytes(sdk.read_bytes() + b"\0")
    runtime = next(p for p in dist.glob("runtime-base-*-linux-x64.tar.gz") if p != sdk and "symbols" not in p.name)
    done = subprocess.run([sys.executable, "-m", "ci", "apps", "--platform", "linux-x64", "--package", str(runtime),
                           "--out", str(tmp_path / "apps")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.splitlines() == [
        f"error: {sdk}: sha256 does not match the one in {runtime.name}'s manifest"]
