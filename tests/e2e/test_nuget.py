"""The NuGet packages judged by the real client: a clean sample project restores RuntimeBase.Sdk
and RuntimeBase.Runtime.linux-x64 from a folder feed holding only the packages built here (plus
the NuGet source for Microsoft's, by packageSourceMapping), the real MSBuild evaluates it, and
`dotnet publish` runs the SDK's own NativeAOT targets: the ILC is the STAND-IN (the stand-in fork's
SDK package carries it). The ILC response file and link line the SDK
writes are diffed against a stock NativeAOT publish of the same sample: only the split's
differences remain."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ci.redist import nuget
from ci.redist.dist import NUPKG_SUFFIX
from ci.runtime.fork import linkplan
from tests.conftest import REPO
from tests.e2e.test_fork_pipeline import stand_in_env
from tests.fixtures.fake_fork import MAIN_CPP_SPLIT, make_fork

pytestmark = pytest.mark.e2e
RID = "linux-x64"
SAMPLE = "hello"
SONAME = "libRuntime.Base.so.10"  # the fork stand-in's version 10.0.0: its soname names the major


def dotnet(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["dotnet", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def nuget_env(tmp: Path) -> dict:
    cache = os.environ.get("NUGET_PACKAGES") or str(tmp / "nuget")
    return {**os.environ, "NUGET_PACKAGES": cache, "DOTNET_NOLOGO": "1", "DOTNET_CLI_TELEMETRY_OPTOUT": "1"}


def sample_project(dest: Path, reference: str | None) -> Path:
    """The sample with its shared files; PublishAot, and a PackageReference to the SDK package."""
    samples = linkplan.samples_dir()
    shutil.copytree(samples / "Common", dest / "Common")
    shutil.copy(samples / "Directory.Build.props", dest)
    (dest / SAMPLE).mkdir()
    shutil.copy(samples / SAMPLE / "Program.cs", dest / SAMPLE)
    package = f'<ItemGroup><PackageReference Include="{nuget.SDK_ID}" Version="{reference}" /></ItemGroup>' if reference else ""
    (dest / SAMPLE / f"{SAMPLE}.csproj").write_text(
        '<Project Sdk="Microsoft.NET.Sdk">\n  <PropertyGroup><TargetFramework>net10.0</TargetFramework>'
        f"<AssemblyName>{SAMPLE}</AssemblyName><PublishAot>true</PublishAot></PropertyGroup>\n  {package}\n</Project>\n")
    return dest / SAMPLE


def nuget_config(dest: Path, feed: Path, env: dict) -> None:
    listed = subprocess.run(["dotnet", "nuget", "list", "source", "--format", "short"], env=env,
                            capture_output=True, text=True, check=True).stdout
    upstream = next(line.split()[1] for line in listed.splitlines() if line.startswith("E"))
    (dest / "nuget.config").write_text(
        f'<configuration><packageSources><clear /><add key="local" value="{feed}" /><add key="nuget" value="{upstream}" />'
        '</packageSources><packageSourceMapping><packageSource key="local"><package pattern="RuntimeBase.*" /></packageSource>'
        '<packageSource key="nuget"><package pattern="*" /></packageSource></packageSourceMapping></configuration>\n')


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("nuget")
    checkout = make_fork(tmp / "fork", MAIN_CPP_SPLIT)
    dist = tmp / "dist"
    env = {k: v for k, v in os.environ.items() if k not in ("RUNTIME_REPO", "GITHUB_ACTIONS")}
    done = subprocess.run([sys.executable, "-m", "ci", "pipeline", "--runtime-repo", str(checkout), "--platform", RID,
                           "--build-dir", str(tmp / "build"), "--dist", str(dist)],
                          cwd=REPO, env={**env, **stand_in_env(checkout, tmp)}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    version = json.loads(next(dist.glob("runtime-base-*.manifest.json")).read_text())["version"]
    feed = tmp / "feed"
    feed.mkdir()
    for nupkg in dist.glob(f"*{NUPKG_SUFFIX}"):
        shutil.copy(nupkg, feed)
    denv = nuget_env(tmp)
    split = sample_project(tmp / "split", version)
    nuget_config(tmp / "split", feed, denv)
    restore = dotnet("restore", "-r", RID, cwd=split, env=denv)
    assert restore.returncode == 0, restore.stdout
    # The publish runs the SDK's targets through the stand-in ILC and the real link (the rsp and
    # link line below are its); its exit status is not asserted: see test_sdk_written_rsp_...
    publish = dotnet("publish", "-r", RID, "--no-restore", f"-p:RuntimeBaseVersion={version}", cwd=split, env=denv)
    stock = sample_project(tmp / "stock", None)
    stock_publish = dotnet("publish", "-r", RID, cwd=stock, env=denv)
    return {"dist": dist, "version": version, "split": split, "stock": stock, "env": denv,
            "publish": publish, "stock_publish": stock_publish}


def evaluate(project: Path, env: dict, *queries: str) -> dict:
    done = dotnet("msbuild", "-r:false", f"-p:RuntimeIdentifier={RID}", *queries, cwd=project, env=env)
    assert done.returncode == 0, done.stdout
    return json.loads(done.stdout)


def test_the_packages_are_listed_in_sha256sums_with_the_nuspec_first(built):
    sums = (built["dist"] / "SHA256SUMS").read_text()
    for package_id in (nuget.SDK_ID, nuget.runtime_id(RID)):
        name = nuget.nupkg_name(package_id, built["version"])
        assert name in sums
        with zipfile.ZipFile(built["dist"] / name) as zf:
            names = zf.namelist()
        assert names[0] == f"{package_id}.nuspec" and "[Content_Types].xml" in names and "_rels/.rels" in names
    with zipfile.ZipFile(built["dist"] / nuget.nupkg_name(nuget.runtime_id(RID), built["version"])) as zf:
        assert f"runtimes/{RID}/native/{SONAME}" in zf.namelist()  # a package holds no links: the soname's file


def test_evaluated_ilc_and_link_inputs_come_from_our_packages(built):
    props = evaluate(built["split"], built["env"], "-getProperty:IlcToolsPath", "-getProperty:IlcSdkPath",
                     "-getProperty:IlcFrameworkPath", "-getProperty:IlcFrameworkNativePath",
                     "-getProperty:RuntimeBaseLibrary")["Properties"]
    for key in ("IlcToolsPath", "IlcSdkPath", "IlcFrameworkPath", "IlcFrameworkNativePath"):
        assert f"/runtimebase.sdk/{built['version']}/ilc/{RID}/" in props[key], (key, props[key])
    assert props["RuntimeBaseLibrary"].endswith(f"runtimebase.runtime.{RID}/{built['version']}/runtimes/{RID}/native/{SONAME}")
    items = evaluate(built["split"], built["env"], "-t:ResolveReferences;SetupOSSpecificProps", "-getItem:NativeLibrary")["Items"]["NativeLibrary"]
    linked = [Path(i["Identity"]).name for i in items]
    assert "libbootstrapperoutplace.o" in linked and linked[-1] == SONAME
    assert not {"libRuntime.WorkstationGC.a", "libbootstrapper.o", "libeventpipe-disabled.a"} & set(linked)


def test_a_gc_setting_in_the_app_is_said_to_have_no_effect(built):
    """The GC is the shared runtime's (manifest host.gc): ServerGarbageCollection becomes the knob
    System.GC.Server, which the split app carries but nothing reads."""
    def gc_target(*props: str) -> str:
        done = dotnet("msbuild", "-r:false", f"-p:RuntimeIdentifier={RID}", *props, "-t:RuntimeBaseGcSettings",
                      cwd=built["split"], env=built["env"])
        assert done.returncode == 0, done.stdout
        return done.stdout

    assert "RUNTIMEBASE001" not in gc_target()
    warned = [line for line in gc_target("-p:ServerGarbageCollection=true").splitlines() if "RUNTIMEBASE001" in line]
    assert warned and "System.GC.Server=true has no effect: the GC belongs to the shared Runtime.Base" in warned[0]


def _rsp(project: Path) -> list[str]:
    rsp = project / "obj" / "Release" / "net10.0" / RID / "native" / f"{SAMPLE}.ilc.rsp"
    return rsp.read_text().splitlines()


def _link_line(publish: subprocess.CompletedProcess, project: Path, env: dict) -> list[str]:
    items = evaluate(project, env, "-t:ResolveReferences;SetupOSSpecificProps", "-getItem:LinkerArg")["Items"]["LinkerArg"]
    return [i["Identity"] for i in items]


def _shape(arg: str) -> str:
    """An argument with the package folder it names left out: what the diff compares."""
    return re.sub(r"^(-r:|\"?)(/.*/)([^/]+)$", r"\1\3", arg.strip('"'))


def test_sdk_written_rsp_and_link_line_differ_from_a_stock_publish_only_by_the_split(built):
    assert built["stock_publish"].returncode == 0, built["stock_publish"].stdout
    stock, split = map(_rsp, (built["stock"], built["split"]))
    # -r: lines name the framework folder: ours has the Outplace CoreLib and the stand-in references.
    def strip(lines: list[str]) -> list[str]:
        return [a for a in lines if not a.startswith("-r:")]
    assert strip(stock) == strip(split)
    assert len([a for a in stock if a.startswith("--feature:")]) >= 22
    stock_link = [_shape(a) for a in _link_line(built["stock_publish"], built["stock"], built["env"])]
    split_link = [_shape(a) for a in _link_line(built["publish"], built["split"], built["env"])]
    removed = [a for a in stock_link if a not in split_link]
    added = [a for a in split_link if a not in stock_link]
    assert sorted(removed) == sorted(["libbootstrapper.o", "libRuntime.WorkstationGC.a", "libeventpipe-disabled.a",
                                      "libRuntime.VxsortDisabled.a", "libstandalonegc-disabled.a"])
    assert added == ["libbootstrapperoutplace.o", SONAME, "-Wl,-rpath,'$ORIGIN'"]
