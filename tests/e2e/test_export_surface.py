"""Every export of Runtime.Base is defined by the real NativeAOT runtime libraries, or listed with why.

The libraries are the stock ones the SDK restores for a NativeAOT publish
(Microsoft.NETCore.App.Runtime.NativeAOT.<rid>, the 10.0.x version the installed SDK selects), and
llvm-nm judges which names their archives and objects define.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ci.runtime.exports import EXPORT_LIST
from tests.conftest import REPO

pytestmark = pytest.mark.e2e

NOT_IN_STOCK = REPO / "packaging" / "exports-not-in-stock-runtime.txt"
RIDS = ("linux-x64", "linux-arm64", "win-x64")


def _exports() -> list[str]:
    lines = EXPORT_LIST.read_text().splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


def _not_in_stock() -> dict[str, tuple[set[str], str]]:
    listed = {}
    for line in NOT_IN_STOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, rids, reason = line.split(maxsplit=2)
            listed[name] = (set(RIDS) if rids == "all" else set(rids.split(",")), reason)
    return listed


@pytest.fixture(scope="module")
def runtime_packs(tmp_path_factory) -> dict[str, Path]:
    """rid -> the native/ directory of the NativeAOT runtime pack restored for it."""
    root = tmp_path_factory.mktemp("packs")
    (root / "probe.csproj").write_text(
        '<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><OutputType>Exe</OutputType>'
        "<TargetFramework>net10.0</TargetFramework><PublishAot>true</PublishAot></PropertyGroup></Project>\n")
    packages = Path(os.environ.get("NUGET_PACKAGES") or Path.home() / ".nuget" / "packages")
    found = {}
    for rid in RIDS:
        done = subprocess.run(["dotnet", "restore", str(root), "-r", rid], capture_output=True, text=True,
                              timeout=600, check=False)
        assert done.returncode == 0, done.stdout[-3000:]
        versions = sorted((packages / f"microsoft.netcore.app.runtime.nativeaot.{rid}").glob("10.0.*"))
        assert versions, f"no 10.0.x NativeAOT runtime pack for {rid} under {packages}"
        found[rid] = versions[-1] / "runtimes" / rid / "native"
    return found


def _defined(native: Path) -> set[str]:
    files = [p for p in native.iterdir() if p.suffix in (".a", ".o", ".lib", ".obj")]
    done = subprocess.run(["llvm-nm", "--defined-only", "--just-symbol-name", *map(str, files)],
                          capture_output=True, text=True, check=False)
    assert done.stdout, done.stderr
    return {line.strip() for line in done.stdout.splitlines() if line.strip() and not line.endswith(":")}


@pytest.mark.parametrize("rid", RIDS)
def test_every_export_is_defined_by_the_stock_runtime_or_listed(runtime_packs, rid):
    native = runtime_packs[rid]
    assert (native / ("Runtime.WorkstationGC.lib" if rid.startswith("win") else "libRuntime.WorkstationGC.a")).is_file()
    defined = _defined(native)
    listed = {name for name, (rids, _) in _not_in_stock().items() if rid in rids}
    missing = [name for name in _exports() if name not in defined]
    assert sorted(missing) == sorted(listed), f"{native}: undefined and unlisted / listed but defined"


def test_the_list_names_only_exports():
    assert set(_not_in_stock()) <= set(_exports())
