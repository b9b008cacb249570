"""Each architecture's name in every tool that names it: the only place that maps them."""

from __future__ import annotations

import platform as _host
from dataclasses import dataclass

from ci.core.errors import BadInput


@dataclass(frozen=True)
class Arch:
    name: str  # ours, as in the rids: "x64", "arm64"
    gnu: str  # GNU triplets, ELF machine names, manylinux tags, `uname -m`
    debian: str  # dpkg and debootstrap
    oci: str  # an image's architecture: the engine's --platform is <os>/<oci>
    qemu: str  # qemu-user's binary (and qemu-user-static's binfmt_misc entry)
    aliases: tuple[str, ...] = ()  # other names a host may report

    @property
    def docker(self) -> str:
        """The engine's --platform for a Linux image of this architecture."""
        return f"linux/{self.oci}"


ARCHES = {a.name: a for a in (
    Arch("x64", gnu="x86_64", debian="amd64", oci="amd64", qemu="qemu-x86_64", aliases=("amd64",)),
    Arch("arm64", gnu="aarch64", debian="arm64", oci="arm64", qemu="qemu-aarch64"),
)}


def arch(name: str) -> Arch:
    try:
        return ARCHES[name]
    except KeyError:
        raise BadInput(f"unknown architecture {name!r}; known: {', '.join(ARCHES)}") from None


def host_arch() -> str:
    """This machine's architecture by our name (an unknown one as the OS reports it)."""
    machine = _host.machine().lower()
    return next((a.name for a in ARCHES.values() if machine in (a.name, a.gnu, a.debian, *a.aliases)), machine)
