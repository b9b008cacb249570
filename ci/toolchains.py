"""C toolchains per target: how the reference runtime and the apps are compiled and linked.

The stages say *what* to build; a toolchain says *how* for its object format: ELF with a GNU
version script and objcopy-split symbols, PE with a .def file, an import library and either
objcopy-split symbols (mingw) or a PDB (clang + lld-link).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import exports
from .exports import REPO_ROOT
from .tools import run_tool, tool_version

WINRT = REPO_ROOT / "reference" / "winrt"


@dataclass(frozen=True)
class Linked:
    library: Path
    link: tuple[Path, ...]  # what apps link against
    debug: tuple[Path, ...]  # split symbols


def split_symbols(objcopy: str, library: Path) -> Path:
    """Upstream's split: keep-debug copy, strip the shipped file, link the two by debuglink."""
    debug = library.with_name(library.name + ".dbg")
    run_tool([objcopy, "--only-keep-debug", library.name, debug.name], cwd=library.parent)
    run_tool([objcopy, "--strip-debug", "--strip-unneeded", library.name], cwd=library.parent)
    run_tool([objcopy, f"--add-gnu-debuglink={debug.name}", library.name], cwd=library.parent)
    return debug


@dataclass(frozen=True)
class GnuElf:
    """gcc for a Linux triplet (the native compiler too: Debian names it by its triplet)."""

    triplet: str
    library_name = "libRuntime.Base.so"
    exe_suffix = ""

    @property
    def cc(self) -> tuple[str, ...]:
        return (f"{self.triplet}-gcc",)

    def identity(self) -> list[str]:
        return [tool_version(self.cc[0]), tool_version(f"{self.triplet}-objcopy")]

    def runtime_cflags(self) -> list[str]:
        return ["-fPIC", "-pthread"]

    def plugin_name(self, name: str) -> str:
        return f"lib{name}.so"

    def link_runtime(self, objects: Sequence[Path], lib_dir: Path, listed: tuple[exports.Export, ...]) -> Linked:
        script = lib_dir.parent / "obj" / "exports.map"
        script.write_text(exports.version_script(listed))
        library = lib_dir / self.library_name
        run_tool([
            *self.cc, "-shared", "-o", library, *objects, "-pthread",
            f"-Wl,--version-script={script}", f"-Wl,-soname,{self.library_name}",
            "-Wl,--build-id=sha1", "-Wl,--as-needed", "-Wl,-z,relro", "-Wl,-z,now", "-Wl,--eh-frame-hdr", "-ldl",
        ])
        return Linked(library, (library,), (split_symbols(f"{self.triplet}-objcopy", library),))

    def link_app(self, args: list[str | Path], output: Path, runtime_dir: Path, shared: bool, cwd: Path) -> None:
        rpath = os.path.relpath(runtime_dir, output.parent)
        run_tool([*self.cc, *args, *(["-shared", "-fPIC"] if shared else []), "-pthread", "-o", output,
                  f"-Wl,-rpath,$ORIGIN/{rpath}", "-Wl,--build-id=sha1", "-ldl"], cwd=cwd)
