"""Real NativeAOT binaries, published by the real .NET SDK with the stock ILCompiler from NuGet.

A tiny C# executable and a `NativeLib=Shared` library, for linux-x64 (native link) and
linux-arm64 (cross-linked by the SDK's Microsoft.NETCore.Native.Unix.targets: `CppCompilerAndLinker`
clang, `LinkerFlavor` lld; it passes `--target=aarch64-linux-gnu` itself and clang finds Debian's
cross libc under /usr/aarch64-linux-gnu), plus the library built by the .NET 8 and .NET 9
ILCompilers (`TargetFramework` net8.0 / net9.0: the SDK restores their targeting and NativeAOT packs).
Set NUGET_PACKAGES to keep the packages in a cache of your own.

And a local GitHub API server on a fake clock, for the release tests.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci.release import github
from ci.release.github import Retry
from tests.fake_github import TOKEN, FakeClock, FakeGitHub

_EXE = """<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>{tfm}</TargetFramework><PublishAot>true</PublishAot>
  <InvariantGlobalization>true</InvariantGlobalization></PropertyGroup>
</Project>
"""
_LIB = """<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Library</OutputType><TargetFramework>{tfm}</TargetFramework><PublishAot>true</PublishAot>
  <NativeLib>Shared</NativeLib><InvariantGlobalization>true</InvariantGlobalization></PropertyGroup>
</Project>
"""
_LIB_SOURCE = """using System.Runtime.InteropServices;
public static class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "plugin_add")]
    public static int Add(int a, int b) => a + b;
}
"""
_CROSS = {"linux-arm64": ["-p:CppCompilerAndLinker=clang", "-p:LinkerFlavor=lld"]}
_STRIP = {"linux-x64": "strip", "linux-arm64": "aarch64-linux-gnu-strip"}


@dataclass(frozen=True)
class NativeAotBinary:
    name: str  # e.g. "exe linux-x64 net10.0 stripped"
    path: Path
    rid: str
    release: str  # the .NET release of the ILCompiler that made it, e.g. ".NET 10"


def _publish(root: Path, kind: str, rid: str, tfm: str) -> Path:
    project = root / f"{kind}-{tfm}"
    project.mkdir(exist_ok=True)
    (project / f"{kind}.csproj").write_text((_EXE if kind == "exe" else _LIB).format(tfm=tfm))
    (project / ("Program.cs" if kind == "exe" else "Lib.cs")).write_text(
        'System.Console.WriteLine("hello");\n' if kind == "exe" else _LIB_SOURCE)
    out = root / "out" / f"{kind}-{rid}-{tfm}"
    env = {**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1",
           "DOTNET_SKIP_FIRST_TIME_EXPERIENCE": "1"}
    done = subprocess.run(["dotnet", "publish", str(project), "-r", rid, "-o", str(out), *_CROSS.get(rid, [])],
                          capture_output=True, text=True, env=env, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return out / (kind if kind == "exe" else f"{kind}.so")


def _stripped(binary: Path, rid: str) -> Path:
    copy = binary.with_name(binary.name + ".stripped")
    subprocess.run([_STRIP[rid], "--strip-all", "-o", str(copy), str(binary)], check=True)
    return copy


@pytest.fixture(scope="session")
def nativeaot_binaries(tmp_path_factory: pytest.TempPathFactory) -> list[NativeAotBinary]:
    """Every NativeAOT binary built here: .NET 10 exe and library for both Linux rids (as published,
    the SDK having split off their symbols, and `strip --strip-all` copies), and .NET 8 and 9 libraries."""
    root = tmp_path_factory.mktemp("nativeaot")
    found = []
    for rid in ("linux-x64", "linux-arm64"):
        for kind in ("exe", "lib"):
            published = _publish(root, kind, rid, "net10.0")
            found.append(NativeAotBinary(f"{kind} {rid} net10.0", published, rid, ".NET 10"))
            found.append(NativeAotBinary(f"{kind} {rid} net10.0 stripped", _stripped(published, rid), rid, ".NET 10"))
    for tfm, release in (("net8.0", ".NET 8"), ("net9.0", ".NET 9")):
        found.append(NativeAotBinary(f"lib linux-x64 {tfm}", _publish(root, "lib", "linux-x64", tfm), "linux-x64",
                                     release))
    return found


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Retries wait on a fake clock; rand=1 makes the jittered backoff its ceiling: 1, 2, 4 ... s."""
    fake = FakeClock()
    monkeypatch.setattr(github, "DEFAULT_RETRY", Retry(sleep=fake.sleep, clock=fake.time, rand=lambda: 1.0))
    return fake


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Iterator[FakeGitHub]:
    """A local GitHub API server with a token, reached through the environment as in CI."""
    with FakeGitHub(tmp_path / "github", TOKEN) as server:
        monkeypatch.setenv("GITHUB_API_URL", server.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        for name in ("GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
            monkeypatch.delenv(name, raising=False)
        yield server
