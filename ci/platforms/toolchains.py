"""C toolchains per target: how the reference runtime and the apps are compiled and linked.

The stages say *what* to build; a toolchain says *how* for its object format: ELF with a GNU
version script and objcopy-split symbols (gcc), PE with a .def file and an import library,
symbols split by objcopy (mingw gcc) or written as a PDB (clang + lld-link, win-arm64, whose
C runtime support comes from reference/winrt because Debian has no arm64 mingw CRT).

Each toolchain finds its programs and headers on the host it runs on (`ci.platforms.hosttools`),
once per PATH: Debian's prefixed cross tools, a Windows runner's unprefixed MinGW, the LLVM
beside the clang on PATH.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from ci.core import cache
from ci.core.fs import sha256_file
from ci.core.proc import run_tool, tool_version
from ci.core.resources import source_tree
from ci.platforms.hosttools import (
    Found,
    beside,
    c_runtime,
    first,
    header_dir,
    on_path,
    own_program,
    resource_headers,
    targets,
    writes,
)


@functools.cache
def recipe() -> str:
    """This module's digest: it holds every compile and link flag, so a change to one rebuilds
    what the flags made (its part of every toolchain's identity)."""
    return sha256_file(Path(__file__))


@dataclass(frozen=True)
class Tools:
    """What a toolchain found on this host, by role."""

    found: tuple[Found, ...]

    def __getitem__(self, role: str) -> str:
        return next(f.path for f in self.found if f.role == role)


class _FindsTools(Hashable, Protocol):
    """A toolchain, as far as finding its tools goes (a frozen dataclass: hashable, cached by value)."""

    def find_tools(self, search: str) -> Tools: ...


@functools.cache
def _locate(toolchain: _FindsTools, search: str) -> Tools:
    return toolchain.find_tools(search)


def locate(toolchain: _FindsTools, search: str | None = None) -> Tools:
    """The toolchain's tools on PATH `search` (default: this process's PATH), found once per PATH."""
    return _locate(toolchain, os.environ.get("PATH", os.defpath) if search is None else search)


@dataclass(frozen=True)
class Linked:
    library: Path
    link: tuple[Path, ...]  # what apps link against
    debug: tuple[Path, ...]  # split symbols
    extra: tuple[Path, ...] = ()  # other files that ship beside the library (the ELF soname link)


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
    """A gcc for a target triplet and the GNU objcopy that writes its object format.

    Found as `<triplet>-gcc` (Debian names even its native gcc that way) or unprefixed `gcc`
    (a Windows runner's MinGW), taken only if `-dumpmachine` names the triplet's CPU and OS;
    objcopy, ar (and windres for PE) are gcc's own (`-print-prog-name`), else prefixed or unprefixed
    beside it or on PATH, taken only if they list the object format among their targets. The
    windows-2025 image's MinGW (niXman's mingw-builds in C:\\mingw64\\bin) names gcc both ways but
    ar, objcopy and windres only unprefixed.
    """

    triplet: str
    hint: str = ""  # how to install it, said when it is missing
    header: ClassVar[str]  # a header every C program of the target's C library has
    bfd: ClassVar[dict[str, str]]  # CPU -> objcopy's name of the object format
    binutils: ClassVar[tuple[str, ...]] = ("objcopy", "ar")  # the binutils the toolchain runs

    def find_tools(self, search: str) -> Tools:
        owner = f"{self.triplet} toolchain"
        hint = self.hint or f"install {self.triplet}-gcc and its binutils"
        cc = first(owner, "compiler", (on_path(f"{self.triplet}-gcc", search), on_path("gcc", search)), hint,
                   accept=targets(self.triplet))
        fmt = self.bfd[self.triplet.split("-")[0]]
        binutils = [first(owner, name, (own_program(cc.path, name), on_path(f"{self.triplet}-{name}", search),
                                        beside(cc.path, name), on_path(name, search)), hint, accept=writes(fmt))
                    for name in self.binutils]
        headers = first(owner, "headers", (header_dir([cc.path], self.header),), hint)
        return Tools((self.described(cc), *binutils, headers))

    def described(self, cc: Found) -> Found:
        """The compiler as found; a PE toolchain adds the C runtime it links."""
        return cc

    @property
    def cc(self) -> tuple[str, ...]:
        return (locate(self)["compiler"],)

    @property
    def objcopy(self) -> str:
        return locate(self)["objcopy"]

    def versions(self) -> list[str]:
        """What the tools say they are: the toolchain as a build record and an SBOM name it."""
        return [tool_version(self.cc[0]), tool_version(self.objcopy)]

    def identity(self) -> list[str]:
        """What a cache key needs: the tools, and the flags this module gives them."""
        return [*self.versions(), recipe()]

    def path_independent(self, source_dir: Path) -> list[str]:
        """Debug info that names sources relative to `source_dir`, whatever the clone path."""
        return [f"-ffile-prefix-map={source_dir}=."]

    static_library_name = "libRuntime.Base.a"

    def archive(self, objects: Sequence[Path], library: Path) -> None:
        """A static library of `objects`; D: no time stamps, uids or modes in it."""
        run_tool([locate(self)["ar"], "rcsD", library, *objects])

    def strip_debug(self, binary: Path) -> None:
        """Drop debug info in place, as a shipped binary is (its symbols go to a .dbg)."""
        run_tool([self.objcopy, "--strip-debug", binary])


@dataclass(frozen=True)
class GnuElf(_Gcc):
    """gcc for a Linux triplet: ELF with a GNU version script."""

    library_name = "libRuntime.Base.so"
    exports_format = "version-script"  # how the runtime's exports reach the linker
    exe_suffix = ""
    header = "stdio.h"
    bfd: ClassVar[dict[str, str]] = {"x86_64": "elf64-x86-64", "aarch64": "elf64-littleaarch64"}

    def runtime_cflags(self) -> list[str]:
        return ["-fPIC", "-pthread"]

    def plugin_name(self, name: str) -> str:
        return f"lib{name}.so"

    def link_runtime(self, objects: Sequence[Path], lib_dir: Path, script: Path, epoch: int,
                     version: tuple[int, int, int], resource: Path) -> Linked:
        """The real file libRuntime.Base.so.<major>.<minor>.<patch>, its soname libRuntime.Base.so.<major>
        (what apps record in DT_NEEDED, and the link ldconfig would make) and the unversioned dev link
        apps link against, both links to the real file; `resource` (a Windows resource script) has no
        ELF counterpart."""
        soname = lib_dir / self.soname(version[0])
        library = lib_dir / f"{soname.name}.{version[1]}.{version[2]}"
        dev_link = lib_dir / self.library_name
        run_tool([
            *self.cc, "-shared", "-o", library, *objects, "-pthread",
            f"-Wl,--version-script={script}", f"-Wl,-soname,{soname.name}",
            "-Wl,--build-id=sha1", "-Wl,--as-needed", "-Wl,-z,relro", "-Wl,-z,now", "-Wl,--eh-frame-hdr", "-ldl",
        ])
        for link in (soname, dev_link):
            link.symlink_to(library.name)
        return Linked(library, (dev_link,), (split_symbols(self.objcopy, library, epoch),), (soname,))

    def soname(self, major: int) -> str:
        return f"{self.library_name}.{major}"

    def link_app(self, cflags: list[str], sources: list[Path], link_inputs: Sequence[str | Path], output: Path,
                 runtime_dir: Path, shared: bool, cwd: Path) -> None:
        rpath = os.path.relpath(runtime_dir, output.parent)  # the app set moves as one tree
        run_tool([*self.cc, *cflags, *(["-shared", "-fPIC"] if shared else []), "-pthread", "-o", output,
                  *sources, *link_inputs, f"-Wl,-rpath,$ORIGIN/{rpath}", "-Wl,--build-id=sha1", "-ldl"], cwd=cwd)

    def static_link_inputs(self, library: Path) -> list[str | Path]:
        """What an app links to carry its own runtime: the archive (link_app adds -pthread -ldl)."""
        return [library]


class _Windows:
    """What both PE toolchains share: names, and exports through a .def file."""

    library_name = "Runtime.Base.dll"
    import_library = "Runtime.Base.lib"
    exports_format = "def"
    exe_suffix = ".exe"

    def plugin_name(self, name: str) -> str:
        return f"{name}.dll"

@dataclass(frozen=True)
class MinGW(_Gcc, _Windows):
    """x86_64-w64-mingw32-gcc: a DLL that needs only system DLLs (no libgcc_s, no winpthread)."""

    header = "windows.h"
    bfd: ClassVar[dict[str, str]] = {"x86_64": "pe-x86-64", "aarch64": "pe-aarch64-little"}
    binutils = ("objcopy", "ar", "windres")

    def described(self, cc: Found) -> Found:
        crt = c_runtime(cc.path)
        return Found(cc.role, cc.path, f"{cc.how[:-1]}, C runtime {crt})" if crt else cc.how)

    @property
    def windres(self) -> str:
        return locate(self)["windres"]

    def runtime_cflags(self) -> list[str]:
        return []

    def link_runtime(self, objects: Sequence[Path], lib_dir: Path, def_file: Path, epoch: int,
                     version: tuple[int, int, int], resource: Path) -> Linked:
        library = lib_dir / self.library_name
        implib = lib_dir / self.import_library
        version_info = resource.with_suffix(".res.o")
        run_tool([self.windres, "-O", "coff", "-i", resource, "-o", version_info])
        run_tool([
            *self.cc, "-shared", "-o", library, *objects, version_info, def_file,
            f"-Wl,--out-implib,{implib}", "-Wl,--build-id",
            # Page-aligned sections let the loader (and wine) map the file instead of copying it.
            "-Wl,--file-alignment,0x1000", "-Wl,--section-alignment,0x1000",
            # No time stamp and no path-derived image base: the same bytes from any checkout.
            "-Wl,--no-insert-timestamp", "-Wl,--disable-auto-image-base", "-static-libgcc", "-lbcrypt", "-lntdll",
        ])
        return Linked(library, (implib,), (split_symbols(self.objcopy, library, epoch),))

    def link_app(self, cflags: list[str], sources: list[Path], link_inputs: Sequence[str | Path], output: Path,
                 runtime_dir: Path, shared: bool, cwd: Path) -> None:
        # No time stamp, and no image base hashed from the output's path (ld's default for DLLs).
        run_tool([*self.cc, *cflags, *(["-shared"] if shared else []), "-o", output, *sources, *link_inputs,
                  "-Wl,--no-insert-timestamp", "-Wl,--disable-auto-image-base"], cwd=cwd)

    def static_link_inputs(self, library: Path) -> list[str | Path]:
        """The archive and what the runtime DLL links besides (see link_runtime): system DLLs only."""
        return [library, "-static-libgcc", "-lbcrypt", "-lntdll"]


@dataclass(frozen=True)
class ClangCoff(_Windows):
    """clang + lld-link for arm64 Windows, freestanding over ucrtbase with reference/winrt."""

    target: str = "aarch64-w64-mingw32"
    machine: str = "arm64"
    hint: str = "install clang, lld and llvm (Debian) or LLVM (Windows), and a mingw-w64 gcc for the headers"
    runtime_dlls = ("kernel32", "ntdll", "bcrypt", "ucrtbase")
    app_dlls = ("kernel32", "ucrtbase")
    #: Compilers whose #include search list may hold the mingw-w64 headers (they are the same for
    #: every CPU): clang itself for the target (an llvm-mingw install), else any MinGW gcc.
    header_sources = ("x86_64-w64-mingw32-gcc", "i686-w64-mingw32-gcc", "gcc")

    def find_tools(self, search: str) -> Tools:
        owner = f"{self.target} toolchain"
        clang = first(owner, "clang", (on_path("clang", search),), self.hint)
        builtin = first(owner, "builtin headers", (resource_headers(clang.path),), self.hint)
        # lld and the llvm tools of the same LLVM as clang, else any on PATH.
        llvm = [first(owner, name, (beside(clang.path, name), on_path(name, search)), self.hint)
                for name in ("lld-link", "llvm-lib", "llvm-dlltool")]
        gccs = (on_path(name, search) for name in self.header_sources)
        headers = first(owner, "headers", (header_dir([clang.path, f"--target={self.target}"], "windows.h"),
                                           *(header_dir([path], "windows.h") if path else (how, None)
                                             for how, path in gccs)), self.hint)
        return Tools((clang, builtin, *llvm, headers))

    @property
    def cc(self) -> tuple[str, ...]:
        tools = locate(self)
        return (tools["clang"], f"--target={self.target}", "-nostdlibinc", "-isystem", tools["headers"], "-D_UCRT",
                "-D__USE_MINGW_ANSI_STDIO=0")

    def versions(self) -> list[str]:
        tools = locate(self)
        return [tool_version(tools["clang"]), tool_version(tools["lld-link"])]

    def identity(self) -> list[str]:
        """Also the winrt sources: every binary of this toolchain links winrt.lib."""
        winrt = source_tree("reference") / "winrt" / self.machine
        return [*self.versions(), recipe(), cache.digest({p.name: p for p in winrt.iterdir() if p.is_file()})]

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
        run_tool([locate(self)["llvm-lib"], "/out:winrt.lib", *objects], cwd=tmp)
        for dll in self.runtime_dlls:
            run_tool([locate(self)["llvm-dlltool"], "-m", self.machine, "-d", sources[f"{dll}.def"], "-l", tmp / f"{dll}.lib"])
        tmp.replace(out)
        return out

    def _lld_link(self, args: list[str | Path], output: Path, cwd: Path) -> None:
        # Run from the output's directory with relative names: lld-link records its command line.
        run_tool([locate(self)["lld-link"], f"/out:{output.name}", f"/machine:{self.machine}", "/nodefaultlib", "/debug",
                  f"/pdb:{output.stem}.pdb", "/pdbaltpath:%_PDB%", "/pdbsourcepath:.", "/Brepro", *args], cwd=cwd)

    def link_runtime(self, objects: Sequence[Path], lib_dir: Path, def_file: Path, epoch: int,
                     version: tuple[int, int, int], resource: Path) -> Linked:
        obj_dir, support = objects[0].parent, self.support()
        for lib in ("winrt", *self.runtime_dlls):  # beside the objects: every input by a relative name
            shutil.copyfile(support / f"{lib}.lib", obj_dir / f"{lib}.lib")
        version_info = resource.with_suffix(".res")
        run_tool(["llvm-rc", "/FO", version_info.name, resource.name], cwd=resource.parent)  # lld-link takes .res as is
        inputs = [def_file, *objects, version_info,
                  *(obj_dir / f"{lib}.lib" for lib in ("winrt", *self.runtime_dlls))]
        relative = [os.path.relpath(p, lib_dir) for p in inputs]
        library = lib_dir / self.library_name
        # Page-aligned sections (as MinGW's): wine maps the file instead of copying it into private memory.
        self._lld_link(["/dll", f"/def:{relative[0]}", f"/implib:{self.import_library}", "/entry:_DllMainCRTStartup",
                        "/filealign:0x1000", *relative[1:]], library, lib_dir)
        return Linked(library, (lib_dir / self.import_library,), (library.with_suffix(".pdb"),))

    def link_app(self, cflags: list[str], sources: list[Path], link_inputs: Sequence[str | Path], output: Path,
                 runtime_dir: Path, shared: bool, cwd: Path) -> None:
        support = self.support()
        objects = []
        for source in sources:
            obj = output.parent / f"{output.stem}.{source.stem}.obj"
            run_tool([*self.cc, *cflags, "-gcodeview", "-c", source, "-o", os.path.relpath(obj, cwd)], cwd=cwd)
            objects.append(obj)
        # The PDB names every object and library as given: beside the output or relative to it only.
        libs = [output.parent / f"{output.stem}.{lib}.lib" for lib in ("winrt", *self.app_dlls)]
        for lib, copy in zip(("winrt", *self.app_dlls), libs, strict=True):
            shutil.copyfile(support / f"{lib}.lib", copy)
        kind = (["/dll", "/entry:_DllMainCRTStartup", f"/implib:{output.stem}.lib"] if shared
                else ["/subsystem:console", "/entry:mainCRTStartup"])
        self._lld_link([*kind, *(os.path.relpath(p, output.parent) for p in (*objects, *link_inputs, *libs))],
                       output, output.parent)
        for leftover in (*objects, *libs, output.with_suffix(".lib") if shared else None):
            if leftover:
                leftover.unlink(missing_ok=True)

    static_library_name = "Runtime.Base.static.lib"  # Runtime.Base.lib is the DLL's import library

    def archive(self, objects: Sequence[Path], library: Path) -> None:
        run_tool(["llvm-lib", f"/out:{library}", *objects])

    def strip_debug(self, binary: Path) -> None:
        """Nothing to drop: lld-link writes the debug info to the .pdb beside the binary."""

    def static_link_inputs(self, library: Path) -> list[str | Path]:
        """The archive and the import libraries of the DLLs the runtime needs beyond the apps' own."""
        support = self.support()
        return [library, *(support / f"{d}.lib" for d in self.runtime_dlls if d not in self.app_dlls)]


Toolchain = GnuElf | MinGW | ClangCoff
