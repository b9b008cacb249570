"""What a Windows build host has: the Visual Studio instances vswhere knows, the default MSVC
toolset, the Windows SDKs, CMake and Python. Every Windows leg prints it, because a runner label
names an image that moves: windows-2025 became the Visual Studio 2026 image in June 2026 and
windows-11-arm in September 2026 (actions/runner-images issues #14017 and #14602).

vswhere's `-format json` is an array of instances, each with `instanceId`, `installationPath`,
`installationVersion`, `displayName` and a `catalog` holding `productDisplayVersion` and
`productLineVersion` (microsoft/vswhere wiki; the year, "2026").
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ci.core.errors import CiError
from ci.core.proc import run

#: The default MSVC toolset's version, inside a Visual Studio installation.
VC_VERSION_FILE = "VC/Auxiliary/Build/Microsoft.VCToolsVersion.default.txt"
ASK_TIMEOUT = 60  # vswhere and cmake answer in well under a second


@dataclass(frozen=True)
class VsInstance:
    display_name: str
    path: str
    version: str  # installationVersion, e.g. 18.4.11620.152
    product: str  # "2026 (18.4.3)": the product line and its display version


@dataclass(frozen=True)
class HostTool:
    """One row of the report: what, which version (None: not there) and where or how it was found."""

    name: str
    version: str | None
    where: str


def default_vswhere() -> Path:
    # Windows spells it ProgramFiles(x86); its environment is case-insensitive (os.environ upper-cases keys).
    program_files = os.environ.get("PROGRAMFILES(X86)", r"C:\Program Files (x86)")
    return Path(program_files) / "Microsoft Visual Studio" / "Installer" / "vswhere.exe"


def registry_kits_root() -> Path:
    """KitsRoot10 from the registry, where the Windows SDK installer records it."""
    if sys.platform != "win32":  # winreg exists only on Windows
        raise CiError("Windows SDK: this host has no registry; pass --windows-kits DIR (the folder holding Lib/)")
    import winreg
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Windows Kits\Installed Roots",
                            0, winreg.KEY_READ | winreg.KEY_WOW64_32KEY) as key:
            return Path(winreg.QueryValueEx(key, "KitsRoot10")[0])
    except OSError:
        raise CiError("Windows SDK not installed: no KitsRoot10 in the registry (install the Windows 10/11 SDK)") from None


def vs_instances(vswhere_json: str, source: str) -> list[VsInstance]:
    """The instances in vswhere's JSON; anything else is one error naming `source`."""
    try:
        listed = json.loads(vswhere_json)
        return [VsInstance(item["displayName"], item["installationPath"], item["installationVersion"],
                           f"{item['catalog']['productLineVersion']} ({item['catalog']['productDisplayVersion']})")
                for item in listed]
    except (ValueError, TypeError, KeyError) as exc:
        raise CiError(f"{source}: not vswhere's JSON instance list ({type(exc).__name__}: {exc})") from None


def _ask(argv: list[str]) -> str | None:
    try:
        done = run(argv, input="", timeout=ASK_TIMEOUT)
    except CiError:
        return None
    return done.stdout if done.returncode == 0 else None


def msvc_version(installation: Path) -> str | None:
    try:
        return (installation / VC_VERSION_FILE).read_text(encoding="utf-8-sig").strip() or None
    except OSError:
        return None


def sdk_versions(kits_root: Path) -> list[str]:
    """Windows 10/11 SDK versions with libraries under `kits_root`, oldest first."""
    found = [v.name for v in (kits_root / "Lib").glob("10.*") if (v / "um").is_dir()]
    return sorted(found, key=lambda name: tuple(int(n) for n in name.split(".") if n.isdigit()))


def windows_build_host(vswhere: Path | None = None, kits_root: Path | None = None,
                       search: str | None = None) -> list[HostTool]:
    """Each tool the fork's Windows build uses, as this host has it; missing ones have no version.
    `search`: the PATH that cmake is looked up on (default this process's)."""
    vswhere = vswhere or default_vswhere()
    rows: list[HostTool] = []
    listed = _ask([str(vswhere), "-products", "*", "-format", "json", "-utf8"]) if vswhere.is_file() else None
    instances = vs_instances(listed, str(vswhere)) if listed is not None else []
    rows += [HostTool(f"Visual Studio {i.product}", i.version, f"{i.display_name}: {i.path}") for i in instances]
    if not instances:
        rows.append(HostTool("Visual Studio", None, f"{vswhere}: {'no instance' if listed else 'vswhere not found'}"))
    for instance in instances:
        version_file = Path(instance.path) / VC_VERSION_FILE
        rows.append(HostTool("MSVC (default toolset)", msvc_version(Path(instance.path)), str(version_file)))
    try:
        kits = kits_root or registry_kits_root()
    except CiError as missing:
        rows.append(HostTool("Windows SDK", None, missing.message))
    else:
        versions = sdk_versions(kits)
        rows.append(HostTool("Windows SDK", ", ".join(versions) or None, str(kits / "Lib")))
    cmake = shutil.which("cmake", path=search)
    cmake_version = _ask([cmake, "--version"]) if cmake else None
    rows.append(HostTool("CMake", cmake_version.splitlines()[0].removeprefix("cmake version ") if cmake_version else None,
                         cmake or "cmake not on PATH"))
    rows.append(HostTool("Python", sys.version.split()[0], sys.executable))
    return rows


def markdown(rows: list[HostTool], title: str) -> str:
    """The report as a job summary table."""
    lines = [f"### {title}", "", "| tool | version | where |", "| --- | --- | --- |"]
    lines += [f"| {r.name} | {r.version or 'missing'} | `{r.where}` |" for r in rows]
    return "\n".join(lines) + "\n\n"
