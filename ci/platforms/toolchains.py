"""C toolchains per target: how the reference runtime and the apps are compiled and linked.

The stages say *what* to build; a toolchain says *how* for its object format: ELF with a GNU
version script and objcopy-split symbols (gcc), PE with a .def file and an import library,
symbols split by objcopy (mingw gcc) or written as a PDB (clang + lld-link, win-arm64, whose
C runtime support comes from reference/winrt because Debian has no arm64 mingw CRT).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ci.core import cache
from ci.core.resources import source_tree
from ci.core.proc import run_tool, tool_version

if TYPE_CHECKING:
    from ci.runtime import exports



@dataclass(frozen=True)
class Linked:
    library: Path
    link: tuple[Path, ...]  # what apps link against
    debug: tuple[Path, ...]  # split symbols


def split_symbols(objcopy: str, library: Path, epoch: int) -> Path:
    """Upstream's split: keep-debug copy, strip the shipped file, link the two by debuglink."""
    debug = library.with_name(library.name + ".dbg")
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}  # objcopy stamps PE headers with it
    for args in (["--only-keep-debug", library.name, debug.name], ["--strip-debug", "--strip-unneeded", library.name],
                 [f"--add-gnu-debuglink={debug.name}", library.name]):
        run_tool([objcopy, *args], cwd=library.parent, env=env)
    return debug


@dataclass(frozen=True)
class _Gcc:
    """A gcc and its binutils named by target triplet (Debian names its native gcc that way too)."""

    triplet: str

    @property
    def cc(self) -> tuple[str, ...]:
        return (f"{self.triplet}-gcc",)

    @property
    def objcopy(self) -> str:
        return f"{self.triplet}-objcopy"

    def identity(self) -> list[str]:
        return [tool_version(self.cc[0]), tool_version(self.objcopy)]

    def path_independent(self, source_dir: Path) -> list[str]:
        """Debug info that names sources relative to `source_dir`, whatever the clone path."""
        return [f"-ffile-prefix-map={source_dir}=."]


@dataclass(frozen=True)
class GnuElf(_Gcc):
    """gcc for a Linux triplet: ELF with a GNU version script."""

    library_name = "libRuntime.Base.so"
    exe_suffix = ""

    def runtime_cflags(self) -> list[str]:
        return ["-fPIC", "-pthread"]

    def plugin_name(self, name: str) -> str:
        return f"lib{name}.so"

    def link_runtime(self, objects: Sequence[Path], lib_dir: Path, listed: tuple[exports.Export, ...], epoch: int) -> Linked:
        from ci.runtime import exports  # here: importing it loads the binary readers, which few commands need

        script = objects[0].parent / "exports.map"
        script.write_text(exports.version_script(listed))
        library = lib_dir / self.library_name
        run_tool([
            *self.cc, "-shared", "-o", library, *objects, "-pthread",
            f"-Wl,--version-script={script}", f"-Wl,-soname,{self.library_name}",
            "-Wl,--build-id=sha1", "-Wl,--as-needed", "-Wl,-z,relro", "-Wl,-z,now", "-Wl,--eh-frame-hdr", "-ldl",
        ])
        return Linked(library, (library,), (split_symbols(self.objcopy, library, epoch),))

    def link_app(self, cflags: list[str], sources: list[Path], link_inputs: list[Path], output: Path,
                 runtime_dir: Path, shared: bool, cwd: Path) -> None:
        rpath = os.path.relpath(runtime_dir, output.parent)  # the app set moves as one tree
        run_tool([*self.cc, *cflags, *(["-shared", "-fPIC"] if shared else []), "-pthread", "-o", output,
                  *sources, *link_inputs, f"-Wl,-rpath,$ORIGIN/{rpath}", "-Wl,--build-id=sha1", "-ldl"], cwd=cwd)


class _Windows:
    """What both PE toolchains share: names, and the .def the runtime exports through."""

    library_name = "Runtime.Base.dll"
    import_library = "Runtime.Base.lib"
    exe_suffix = ".exe"

    def plugin_name(self, name: str) -> str:
        return f"{name}.dll"

    def _def_file(self, objects: Sequence[Path], listed: tuple[exports.Export, ...]) -> Path:
        from ci.runtime import exports  # as above

        path = objects[0].parent / "Runtime.Base.def"
        path.write_text(exports.def_file(listed, self.library_name))
        return path


@dataclass(frozen=True)
class MinGW(_Gcc, _Windows):
    """x86_64-w64-mingw32-gcc: a DLL that needs only system DLLs (no libgcc_s, no winpthread)."""

    def runtime_cflags(self) -> list[str]:
        return []

    def link_runtime(self, objects: Sequence[Path], lib_dir: Path, listed: tuple[exports.Export, ...], epoch: int) -> Linked:
        library = lib_dir / self.library_name
        implib = lib_dir / self.import_library
        run_tool([
            *self.cc, "-shared", "-o", library, *objects, self._def_file(objects, listed),
            f"-Wl,--out-implib,{implib}", "-Wl,--build-id",
            # Page-aligned sections let the loader (and wine) map the file instead of copying it.
            "-Wl,--file-alignment,0x1000", "-Wl,--section-alignment,0x1000",
            # No time stamp and no path-derived image base: the same bytes from any checkout.
            "-Wl,--no-insert-timestamp", "-Wl,--disable-auto-image-base", "-static-libgcc", "-lbcrypt", "-lntdll",
        ])
        return Linked(library, (implib,), (split_symbols(self.objcopy, library, epoch),))

    def link_app(self, cflags: list[str], sources: list[Path], link_inputs: list[Path], output: Path,
                 runtime_dir: Path, shared: bool, cwd: Path) -> None:
        run_tool([*self.cc, *cflags, *(["-shared"] if shared else []), "-o", output, *sources, *link_inputs,
                  "-Wl,--no-insert-timestamp"], cwd=cwd)


@dataclass(frozen=True)
class ClangCoff(_Windows):
    """clang + lld-link for arm64 Windows, freestanding over ucrtbase with reference/winrt."""

    target: str = "aarch64-w64-mingw32"
    machine: str = "arm64"
    headers: Path = Path("/usr/share/mingw-w64/include")
    runtime_dlls = ("kernel32", "ntdll", "bcrypt", "ucrtbase")
    app_dlls = ("kernel32", "ucrtbase")

    @property
    def cc(self) -> tuple[str, ...]:
        return ("clang", f"--target={self.target}", "-nostdlibinc", "-isystem", str(self.headers),
                "-D_UCRT", "-D__USE_MINGW_ANSI_STDIO=0")

    def identity(self) -> list[str]:
        return [tool_version("clang"), tool_version("lld-link")]

    def runtime_cflags(self) -> list[str]:
        return ["-gcodeview"]

    def path_independent(self, source_dir: Path) -> list[str]:
        """CodeView objects embed the compiler's whole command line: no absolute path may be in it,
        so compiles run in `source_dir` with relative names, and the recorded directory is '.'."""
        return ["-fdebug-compilation-dir=.", "-fcoverage-compilation-dir=."]

    def support(self) -> Path:
        """winrt.lib and the DLL import libraries, built once per machine into the cache."""
        source_dir = source_tree("reference") / "winrt" / self.machine
        sources = {p.name: p for p in source_dir.iterdir() if p.is_file()}
        cflags = [*self.cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-gcodeview",
                  *self.path_independent(source_dir)]
        key = cache.digest(sources, [cflags, self.identity()])
        out = cache.cache_dir() / f"winrt-{self.machine}-{key[:16]}"
        if (out / "winrt.lib").is_file():
            return out
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        objects = []
        for c_file in sorted(p for p in sources.values() if p.suffix == ".c"):
            run_tool([*cflags, "-c", c_file.name, "-o", tmp / f"{c_file.stem}.obj"], cwd=source_dir)
            objects.append(f"{c_file.stem}.obj")
        run_tool(["llvm-lib", "/out:winrt.lib", *objects], cwd=tmp)
        for dll in self.runtime_dlls:
            run_tool(["llvm-dlltool", "-m", self.machine, "-d", sources[f"{dll}.def"], "-l", tmp / f"{dll}.lib"])
        tmp.replace(out)
        return out

    def _lld_link(self, args: list[str | Path], output: Path, cwd: Path) -> None:
        # Run from the output's directory with relative names: lld-link records its command line.
        run_tool(["lld-link", f"/out:{output.name}", f"/machine:{self.machine}", "/nodefaultlib", "/debug",
                  f"/pdb:{output.stem}.pdb", "/pdbaltpath:%_PDB%", "/pdbsourcepath:.", "/Brepro", *args], cwd=cwd)

    def link_runtime(self, objects: Sequence[Path], lib_dir: Path, listed: tuple[exports.Export, ...], epoch: int) -> Linked:
        obj_dir, support = objects[0].parent, self.support()
        for lib in ("winrt", *self.runtime_dlls):  # beside the objects: every input by a relative name
            shutil.copyfile(support / f"{lib}.lib", obj_dir / f"{lib}.lib")
        inputs = [self._def_file(objects, listed), *objects, *(obj_dir / f"{lib}.lib" for lib in ("winrt", *self.runtime_dlls))]
        relative = [os.path.relpath(p, lib_dir) for p in inputs]
        library = lib_dir / self.library_name
        self._lld_link(["/dll", f"/def:{relative[0]}", f"/implib:{self.import_library}", "/entry:_DllMainCRTStartup",
                        *relative[1:]], library, lib_dir)
        return Linked(library, (lib_dir / self.import_library,), (library.with_suffix(".pdb"),))

    def link_app(self, cflags: list[str], sources: list[Path], link_inputs: list[Path], output: Path,
                 runtime_dir: Path, shared: bool, cwd: Path) -> None:
        support = self.support()
        objects = []
        for source in sources:
            obj = output.parent / f"{output.stem}.{source.stem}.obj"
            run_tool([*self.cc, *cflags, "-gcodeview", "-c", source, "-o", obj], cwd=cwd)
            objects.append(obj)
        kind = (["/dll", "/entry:_DllMainCRTStartup", f"/implib:{output.stem}.lib"] if shared
                else ["/subsystem:console", "/entry:mainCRTStartup"])
        self._lld_link([*kind, *objects, *link_inputs, support / "winrt.lib",
                        *(support / f"{d}.lib" for d in self.app_dlls)], output, output.parent)
        for leftover in (*objects, output.with_suffix(".lib") if shared else None):
            if leftover:
                leftover.unlink(missing_ok=True)


Toolchain = GnuElf | MinGW | ClangCoff
