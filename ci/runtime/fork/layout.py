"""Where things are in a fork checkout: the sources this CI relies on, and the build's outputs.

Every output is named with the build step (subset) that makes it, so a missing file says which
part of the hour-long build to look at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ci.core.errors import InputError
from ci.core.resources import data_file
from ci.platforms import Platform
from ci.runtime.fork import cmake
from ci.runtime.output import DEFAULT_LIBRARIES_CONFIGURATION

NATIVEAOT = "src/coreclr/nativeaot"
BOOTSTRAP_DIR = f"{NATIVEAOT}/Bootstrap"
ASM_OFFSETS = f"{NATIVEAOT}/Runtime/AsmOffsets.h"
WINDOWS_APIS = f"{NATIVEAOT}/BuildIntegration/WindowsAPIs.txt"
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

#: The fork's word for each platform OS: in artifacts/bin/coreclr/<os>.<arch>.<Cfg> and for --os.
OS_NAMES = {"linux": "linux", "win": "windows"}
_AOTSDK_NAMES = {"win": {"lib": "{}.lib", "obj": "{}.obj"}, "linux": {"lib": "lib{}.a", "obj": "lib{}.o"}}

_TOOLS = "subset clr.aot (clr.tools)"
_NATIVE = "subset clr.aot (clr.nativeaotruntime)"
_MANAGED = "subset clr.aot (clr.nativeaotlibs)"
_PROJECT = "subset clr.aot (clr.nativeaotlibs: {}.csproj)"
_RUNTIME_PACK = "subset libs (libs.pretest: the live runtime pack)"

#: The fork facts this module and checkout.py follow, with the file and commit each was read at.
FACTS = json.loads(data_file("fork-facts.json").read_text(encoding="utf-8"))
FORK_COMMIT = FACTS["commit"]
BOOTSTRAP_CMAKE = FACTS["bootstrap"]["cmake"]
#: The two bootstrappers by their CMake project (= the aotsdk object's name): runtimebase starts
#: Runtime.Base itself, outplace is linked into every app and imports InitializeRuntimeBase.
BOOTSTRAPPERS = {role: spec["project"] for role, spec in FACTS["bootstrap"]["projects"].items()}


def bootstrap_projects(checkout: Path) -> dict[str, cmake.Project]:
    """The CMake projects Bootstrap/CMakeLists.txt adds, by project name, found as CMake finds them."""
    top = checkout / BOOTSTRAP_CMAKE
    found = {}
    for sub in cmake.subdirectories(top):
        lists = top.parent / sub.name / "CMakeLists.txt"
        if lists.is_file():  # a subdirectory without one fails the fork's own configure, not ours
            proj = cmake.project(lists, sub.condition)
            found[proj.name] = proj
    return found


def bootstrapper(checkout: Path, role: str) -> cmake.Project:
    """The runtimebase or outplace project, or one error saying what the fork's CMake lacks."""
    name = BOOTSTRAPPERS[role]
    found = bootstrap_projects(checkout).get(name)
    if found is None:
        raise InputError(checkout / BOOTSTRAP_CMAKE, f"adds no subdirectory with project({name}) (the {role} bootstrapper)")
    return found


def missing_sources(checkout: Path) -> list[str]:
    """What a fork checkout lacks, each piece described."""
    missing = [f"{rel} ({what})" for rel, what in SOURCES.items() if not (checkout / rel).is_file()]
    if not (checkout / BOOTSTRAP_CMAKE).is_file():
        return [*missing, f"{BOOTSTRAP_CMAKE} (the bootstrappers' CMake projects)"]
    projects = bootstrap_projects(checkout)
    for role, name in BOOTSTRAPPERS.items():
        proj = projects.get(name)
        if proj is None:
            missing.append(f"a subdirectory of {BOOTSTRAP_CMAKE} with project({name}) (the {role} bootstrapper)")
            continue
        lists = shown_path(proj.cmake, checkout)
        if not proj.sources:
            missing.append(f"a source in {lists} (project {name} compiles nothing)")
        missing += [f"{shown_path(s, checkout)} (compiled by {lists})" for s in proj.sources if not s.is_file()]
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
    libraries_configuration: str = DEFAULT_LIBRARIES_CONFIGURATION  # -lc

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

    @property
    def windows_apis(self) -> Product:
        """The Windows APIs ILC calls directly (--directpinvokelist), a source file of the fork."""
        return Product(self.checkout / WINDOWS_APIS, "the checkout (a source file)")

    @property
    def dotnet(self) -> Path:
        """The .NET SDK the fork's build downloaded (dotnet.sh / dotnet.cmd at its root)."""
        return self.checkout / DOTNET_SCRIPTS[self.platform.os]


#: The SDK package's folders, as in NativeAOT's own ILCompiler package (build/ holds WindowsAPIs.txt there too).
SDK_TOOLS, SDK_FRAMEWORK, SDK_LIBS, SDK_BUILD = "tools", "framework", "sdk", "build"


@dataclass(frozen=True)
class SdkLayout(ForkLayout):
    """The same app-side products, read from an unpacked SDK package instead of the fork's tree:
    tools/ ILC, framework/ reference assemblies and the Outplace CoreLib (and, on Linux, the
    framework's static native libraries), sdk/ the aotsdk libraries, objects and assemblies."""

    dotnet_path: Path | None = None  # `dotnet` for the IL step: the SDK package carries none

    def _in(self, folder: str, name: str) -> Product:
        return Product(self.checkout / folder / name, f"the SDK package ({folder}/)")

    @property
    def ilc(self) -> Product:
        return self._in(SDK_TOOLS, "ilc.exe" if self.platform.os == "win" else "ilc")

    def aotsdk(self, kind: str, name: str) -> Product:
        return self._in(SDK_LIBS, _AOTSDK_NAMES[self.platform.os][kind].format(name))

    def aotsdk_assembly(self, name: str) -> Product:
        return self._in(SDK_LIBS, f"{name}.dll")

    @property
    def outplace_corelib(self) -> Product:
        return self._in(SDK_FRAMEWORK, "System.Private.CoreLib.dll")

    @property
    def framework(self) -> Product:
        return self._in(SDK_FRAMEWORK, "")

    def framework_native(self, name: str) -> Product:
        return self._in(SDK_FRAMEWORK, f"lib{name}.a")

    @property
    def windows_apis(self) -> Product:
        return self._in(SDK_BUILD, Path(WINDOWS_APIS).name)

    @property
    def dotnet(self) -> Path:
        if self.dotnet_path is None:
            raise InputError(self.checkout, "C# apps need `dotnet` for their IL: none was given")
        return self.dotnet_path


def missing(products: list[Product], checkout: Path) -> list[str]:
    """Each missing product as 'PATH missing: built by STEP', paths relative to the checkout."""
    return [f"{shown_path(p.path, checkout)} missing: built by {p.made_by}"
            for p in dict.fromkeys(products) if not p.path.exists()]


def require(products: list[Product], checkout: Path) -> None:
    gaps = missing(products, checkout)
    if gaps:
        raise InputError(checkout, f"fork build output incomplete: {'; '.join(gaps)}")


def shown_path(path: Path, root: Path) -> str:
    """A path as messages show it: relative to the checkout when inside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
