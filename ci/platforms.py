"""The platform matrix: the only place that lists platforms and what differs between them."""

from __future__ import annotations

import platform as _host
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import CiError

RunMode = Literal["native", "qemu-user", "wine", "none"]


@dataclass(frozen=True)
class Platform:
    rid: str
    os: Literal["linux", "win"]
    arch: Literal["x64", "arm64"]
    cc: tuple[str, ...]  # the C compiler driver and its target flags
    objcopy: str
    runner: str  # GitHub Actions runner label
    run_here: RunMode  # how this machine runs the platform's binaries
    lib_dirs: tuple[Path, ...]  # where the target's loader finds system libraries here

    @property
    def library_name(self) -> str:
        return "Runtime.Base.dll" if self.os == "win" else "libRuntime.Base.so"

    @property
    def archive_suffix(self) -> str:
        return ".zip" if self.os == "win" else ".tar.gz"

    @property
    def exe_suffix(self) -> str:
        return ".exe" if self.os == "win" else ""

    def plugin_name(self, name: str) -> str:
        return f"{name}.dll" if self.os == "win" else f"lib{name}.so"


PLATFORMS: dict[str, Platform] = {
    p.rid: p
    for p in (
        Platform(
            rid="linux-x64",
            os="linux",
            arch="x64",
            cc=("gcc",),
            objcopy="objcopy",
            runner="ubuntu-24.04",
            run_here="native",
            lib_dirs=(Path("/lib/x86_64-linux-gnu"), Path("/usr/lib/x86_64-linux-gnu"), Path("/lib64"), Path("/usr/lib")),
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
        raise CiError(f"unknown platform {rid!r}; known: {', '.join(PLATFORMS)}") from None


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
