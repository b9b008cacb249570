"""Where things are in a fork checkout: the sources this CI relies on, and the build's outputs.

Every output is named with the build step (subset) that makes it, so a missing file says which
part of the hour-long build to look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from ci.core.errors import InputError
from ci.platforms import Platform

NATIVEAOT = "src/coreclr/nativeaot"
BOOTSTRAP_DIR = f"{NATIVEAOT}/Bootstrap"
ASM_OFFSETS = f"{NATIVEAOT}/Runtime/AsmOffsets.h"
VERSIONS = "eng/Versions.props"
BUILD_SCRIPTS = {"linux": "build.sh", "win": "build.cmd"}
DOTNET_SCRIPTS = {"linux": "dotnet.sh", "win": "dotnet.cmd"}  # the SDK the build downloaded into .dotnet/

#: Files a fork checkout must have, and what each one is.
SOURCES = {
    f"{NATIVEAOT}/Runtime.Base/src/Runtime.Base.csproj": "the Runtime.Base project",
    f"{NATIVEAOT}/System.Private.CoreLib/src/Outplace.CoreLib.csproj": "the Outplace CoreLib project",
    ASM_OFFSETS: "the runtime's assembly offsets (part of the build cache key)",
    VERSIONS: "the product version",
    "build.sh": "the build script (Linux)",
    "build.cmd": "the build script (Windows)",
}

#: The two bootstrappers, found by a glob on their path under Bootstrap/ (file or folder name):
#: runtimebase starts Runtime.Base itself, (base)outplace is linked into every app.
BOOTSTRAPPERS = {"runtimebase": "*runtimebase*", "outplace": "*outplace*"}
SOURCE_SUFFIXES = (".c", ".cpp", ".h", ".hpp", ".inc")

#: The fork's word for each platform OS: in artifacts/bin/coreclr/<os>.<arch>.<Cfg> and for --os.
OS_NAMES = {"linux": "linux", "win": "windows"}
_AOTSDK_NAMES = {"win": {"lib": "{}.lib", "obj": "{}.obj"}, "linux": {"lib": "lib{}.a", "obj": "lib{}.o"}}

_TOOLS = "subset clr.aot (clr.tools)"
_NATIVE = "subset clr.aot (clr.nativeaotruntime)"
_MANAGED = "subset clr.aot (clr.nativeaotlibs)"
_PROJECT = "subset clr.aot (clr.nativeaotlibs: {}.csproj)"
_RUNTIME_PACK = "subset libs (libs.pretest: the live runtime pack)"


def bootstrap_sources(checkout: Path, pattern: str = "*") -> list[Path]:
    """C/C++ sources under Bootstrap/ whose path (relative to it) matches `pattern`."""
    root = checkout / BOOTSTRAP_DIR
    found = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SOURCE_SUFFIXES]
    return sorted(p for p in found if fnmatch(p.relative_to(root).as_posix().lower(), pattern))


def missing_sources(checkout: Path) -> list[str]:
    """What a fork checkout lacks, each piece described."""
    missing = [f"{rel} ({what})" for rel, what in SOURCES.items() if not (checkout / rel).is_file()]
    for name, pattern in BOOTSTRAPPERS.items():
        if not bootstrap_sources(checkout, pattern):
            missing.append(f"{BOOTSTRAP_DIR}/{pattern} (the {name} bootstrapper)")
    return missing


@dataclass(frozen=True)
class Product:
    """A build output and the build step that makes it."""

    path: Path
    made_by: str


@dataclass(frozen=True)
class ForkLayout:
    checkout: Path
    platform: Platform
    configuration: str  # the runtime configuration (-rc)
    libraries_configuration: str = "Release"  # -lc

    @property
    def os_name(self) -> str:
        return OS_NAMES[self.platform.os]

    @property
    def coreclr_bin(self) -> Path:
        arch = self.platform.arch
        return self.checkout / "artifacts" / "bin" / "coreclr" / f"{self.os_name}.{arch}.{self.configuration}"

    @property
    def ilc(self) -> Product:
        exe = "ilc.exe" if self.platform.os == "win" else "ilc"
        return Product(self.coreclr_bin / "ilc-published" / exe, _TOOLS)

    def aotsdk(self, kind: str, name: str) -> Product:
        """A static library ("lib") or object ("obj") in aotsdk/, named the OS's way."""
        return Product(self.coreclr_bin / "aotsdk" / _AOTSDK_NAMES[self.platform.os][kind].format(name), _NATIVE)

    def aotsdk_assembly(self, name: str) -> Product:
        return Product(self.coreclr_bin / "aotsdk" / f"{name}.dll", _MANAGED)

    def _managed(self, project: str, file: str) -> Product:
        path = self.checkout / "artifacts" / "bin" / project / self.platform.arch / self.configuration / file
        return Product(path, _PROJECT.format(project))

    @property
    def runtime_base_il(self) -> Product:
        """Runtime.Base.dll: the managed system module ILC compiles into the runtime."""
        return self._managed("Runtime.Base", "Runtime.Base.dll")

    @property
    def outplace_corelib(self) -> Product:
        return self._managed("Outplace.CoreLib", "System.Private.CoreLib.dll")

    @property
    def _runtime_pack(self) -> Path:
        rid = self.platform.rid
        return (self.checkout / "artifacts" / "bin" / f"microsoft.netcore.app.runtime.{rid}"
                / self.libraries_configuration / "runtimes" / rid)

    @property
    def framework(self) -> Product:
        """The folder of framework reference assemblies apps compile against."""
        return Product(self._runtime_pack / "lib" / "net10.0", _RUNTIME_PACK)

    def framework_native(self, name: str) -> Product:
        return Product(self._runtime_pack / "native" / f"lib{name}.a", _RUNTIME_PACK)


def missing(products: list[Product], checkout: Path) -> list[str]:
    """Each missing product as 'PATH missing: built by STEP', paths relative to the checkout."""
    return [f"{_rel(p.path, checkout)} missing: built by {p.made_by}"
            for p in dict.fromkeys(products) if not p.path.exists()]


def require(products: list[Product], checkout: Path) -> None:
    gaps = missing(products, checkout)
    if gaps:
        raise InputError(checkout, f"fork build output incomplete: {'; '.join(gaps)}")


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
