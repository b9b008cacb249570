"""The platform matrix: the only place that lists platforms and what differs between them."""

from __future__ import annotations

import platform as _host
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ci.core.errors import BadInput, CiError
from ci.platforms.toolchains import ClangCoff, GnuElf, MinGW, Toolchain

RunMode = Literal["native", "qemu-user", "wine", "none"]


@dataclass(frozen=True)
class Platform:
    rid: str
    os: Literal["linux", "win"]
    arch: Literal["x64", "arm64"]
    toolchain: Toolchain
    runner: str  # GitHub Actions runner label
    emulators: dict[str, RunMode] = field(default_factory=dict)  # host rid -> how it runs there
    lib_dirs: tuple[Path, ...] = ()  # where the target's loader finds system libraries on a host
    sysroot: Path | None = None  # the target's root for an emulator (qemu -L)

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


PLATFORMS: dict[str, Platform] = {
    p.rid: p
    for p in (
        Platform(
            rid="linux-x64", os="linux", arch="x64", toolchain=GnuElf("x86_64-linux-gnu"),
            runner="ubuntu-24.04", emulators={"linux-arm64": "qemu-user"},
            lib_dirs=(Path("/lib/x86_64-linux-gnu"), Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/x86_64-linux-gnu/lib")),
            sysroot=Path("/usr/x86_64-linux-gnu"),
        ),
        Platform(
            rid="linux-arm64", os="linux", arch="arm64", toolchain=GnuElf("aarch64-linux-gnu"),
            runner="ubuntu-24.04-arm", emulators={"linux-x64": "qemu-user"},
            lib_dirs=(Path("/lib/aarch64-linux-gnu"), Path("/usr/lib/aarch64-linux-gnu"), Path("/usr/aarch64-linux-gnu/lib")),
            sysroot=Path("/usr/aarch64-linux-gnu"),
        ),
        Platform(
            rid="win-x64", os="win", arch="x64", toolchain=MinGW("x86_64-w64-mingw32"),
            runner="windows-2025", emulators={"linux-x64": "wine"},
        ),
        Platform(
            rid="win-arm64", os="win", arch="arm64", toolchain=ClangCoff(),
            runner="windows-11-arm",
        ),
    )
}

_HOST_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


def host_rid() -> str:
    os_name = "win" if _host.system() == "Windows" else "linux"
    return f"{os_name}-{_HOST_ARCH.get(_host.machine().lower(), _host.machine().lower())}"


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
