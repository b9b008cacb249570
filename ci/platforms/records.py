"""The platform matrix: the only place that lists platforms and what differs between them."""

from __future__ import annotations

import platform as _host
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ci.core.errors import BadInput, CiError
from ci.platforms.arch import host_arch
from ci.platforms.toolchains import ClangCoff, GnuElf, MinGW, Toolchain

RunMode = Literal["native", "qemu-user", "wine", "none"]


@dataclass(frozen=True)
class Floor:
    """The oldest target a platform's binaries may need: the highest glibc symbol version (Linux),
    the DLLs they may import (Windows; the runtime's own DLL is always allowed to apps)."""

    glibc: str | None = None
    dlls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Platform:
    rid: str
    os: Literal["linux", "win"]
    arch: Literal["x64", "arm64"]
    toolchain: Toolchain
    runner: str  # GitHub Actions runner label: where its apps run natively (the test leg)
    emulators: dict[str, RunMode] = field(default_factory=dict)  # host rid -> how it runs there
    lib_dirs: tuple[Path, ...] = ()  # where the target's loader finds system libraries on a host
    sysroot: Path | None = None  # the target's root for an emulator (qemu -L)
    # Where the package is built: in the Linux build container of this rid (containers/linux,
    # Dockerfile target `build_target`) on that rid's runner, or None for the runner's own host.
    build_container: str | None = None
    build_target: str = "reference"
    also_tested_on: tuple[str, ...] = ()  # further runners its apps run on (an older OS, for the floor)
    # Also packaged by nox inside a Windows container (containers/windows) on its runner, and
    # compared byte for byte with the runner's own build (crosscheck).
    windows_container: bool = False
    floor: Floor = Floor()

    @property
    def build_runner(self) -> str:
        return get_platform(self.build_container).runner if self.build_container else self.runner

    @property
    def test_runners(self) -> tuple[str, ...]:
        return (self.runner, *self.also_tested_on)

    @property
    def archive_suffix(self) -> str:
        return ".zip" if self.os == "win" else ".tar.gz"

    @property
    def exe_suffix(self) -> str:
        return self.toolchain.exe_suffix

    def plugin_name(self, name: str) -> str:
        return self.toolchain.plugin_name(name)

    @property
    def run_mode(self) -> RunMode:
        """How this machine runs the platform's binaries."""
        host = host_rid()
        return "native" if host == self.rid else self.emulators.get(host, "none")


# Runner labels are pinned images, never -latest (which moves under a release):
# - ubuntu-24.04 / ubuntu-24.04-arm: docker-ce 28 and jq on the image, debootstrap from apt
#   (runner-images images/ubuntu/toolsets/toolset-2404.json @ 00e314e);
# - windows-2025: Server 2025 with Visual Studio 2026 since June 2026 (runner-images #14017), Docker 29
#   and the Containers feature, MinGW gcc 15.2 for the UCRT (Windows2025-VS2026-Readme.md @ 07d0831);
# - windows-11-arm: the only hosted arm64 Windows, Visual Studio 2026 since September 2026 (#14602),
#   no Docker;
# - windows-2022: the oldest hosted Windows (Server 2022), for the floor below.

#: System DLLs every supported Windows has (10 1809 and later, Server 2019 and later): the loader
#: finds these in System32, so nothing beyond them and Runtime.Base may be imported.
_WINDOWS_DLLS = ("kernel32.dll", "ntdll.dll", "bcrypt.dll", "msvcrt.dll", "ucrtbase.dll")

PLATFORMS: dict[str, Platform] = {
    p.rid: p
    for p in (
        Platform(
            rid="linux-x64", os="linux", arch="x64", toolchain=GnuElf("x86_64-linux-gnu", hint="Debian: apt install gcc binutils libc6-dev"),
            runner="ubuntu-24.04", emulators={"linux-arm64": "qemu-user"},
            lib_dirs=(Path("/lib/x86_64-linux-gnu"), Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/x86_64-linux-gnu/lib")),
            sysroot=Path("/usr/x86_64-linux-gnu"), build_container="linux-x64",
            floor=Floor(glibc="2.36"),  # Debian 12 (bookworm), the build image: never newer than it
        ),
        Platform(
            rid="linux-arm64", os="linux", arch="arm64", toolchain=GnuElf("aarch64-linux-gnu", hint="Debian: apt install gcc-aarch64-linux-gnu libc6-dev-arm64-cross"),
            runner="ubuntu-24.04-arm", emulators={"linux-x64": "qemu-user"},
            lib_dirs=(Path("/lib/aarch64-linux-gnu"), Path("/usr/lib/aarch64-linux-gnu"), Path("/usr/aarch64-linux-gnu/lib")),
            sysroot=Path("/usr/aarch64-linux-gnu"), build_container="linux-arm64",
            floor=Floor(glibc="2.36"),
        ),
        Platform(
            rid="win-x64", os="win", arch="x64",
            toolchain=MinGW("x86_64-w64-mingw32", hint="Debian: apt install gcc-mingw-w64-x86-64; "
                                                       "Windows: put MinGW's bin (C:\\mingw64\\bin) on PATH"),
            # Built in the linux-x64 container (windows-cross: Debian's mingw-w64, msvcrt), as win-arm64
            # is: the same bytes as a Debian host's and reproducible on any host (crosscheck). The
            # windows-2025 image's MinGW is another toolchain: gcc 15.2 for the UCRT (toolset-2025-vs2026.json
            # @ 0367b0c, Windows2025-VS2026-Readme.md @ 07d0831), moving with every image update. The
            # apps are linked and run with it on windows-2025, and on windows-2022 (Server 2022, the
            # oldest hosted Windows) for the floor.
            runner="windows-2025", emulators={"linux-x64": "wine"}, build_container="linux-x64",
            build_target="windows-cross", also_tested_on=("windows-2022",), windows_container=True,
            floor=Floor(dlls=_WINDOWS_DLLS),
        ),
        Platform(
            rid="win-arm64", os="win", arch="arm64", toolchain=ClangCoff(),
            # Cross-built in the linux-x64 container: the windows-11-arm image's MinGW (and so the
            # mingw-w64 headers) is not certain (runner-images Windows11-Arm64-Readme.md @ 0303dd0
            # lists gcc 14.2; partner-runner-images arm-windows-11-image.md @ 80ebe9f omitted MSYS2),
            # nor its Visual C++ (pyjoulescope_ui#303). Only its test leg runs there, linking the
            # apps with the runner's LLVM (C:\Program Files\LLVM\bin, Install-LLVM.ps1 @ 3390d85).
            runner="windows-11-arm", build_container="linux-x64", build_target="windows-cross",
            floor=Floor(dlls=_WINDOWS_DLLS),
        ),
    )
}

def host_rid() -> str:
    os_name = "win" if _host.system() == "Windows" else "linux"
    return f"{os_name}-{host_arch()}"


def get_platform(rid: str) -> Platform:
    try:
        return PLATFORMS[rid]
    except KeyError:
        raise BadInput(f"unknown platform {rid!r}; known: {', '.join(PLATFORMS)}") from None


def select(rids: list[str] | None) -> list[Platform]:
    """Platforms named on the command line ('all' for every one), or the host's."""
    if not rids:
        return [get_platform(host_rid())]
    if "all" in rids:
        return list(PLATFORMS.values())
    return [get_platform(rid) for rid in dict.fromkeys(rids)]


def for_binary(format: str, arch: str) -> Platform:
    """The platform whose binaries have this format and architecture."""
    os_name = "win" if format == "pe" else "linux"
    for platform in PLATFORMS.values():
        if platform.os == os_name and platform.arch == arch:
            return platform
    raise CiError(f"no platform for {format} binaries of architecture {arch}")
