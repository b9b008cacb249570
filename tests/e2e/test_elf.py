"""The ELF reader against real gcc-built binaries, checked with readelf."""

from __future__ import annotations

import os
import random
import shutil
import struct
from pathlib import Path

import pytest

from ci.binaries import Symbol, read_binary
from ci.binaries.model import UNKNOWN_LIBRARY
from ci.core.errors import InputError
from tests.binaries_helpers import run_tool, section_header
from tests.damage import assert_damage_is_contained
from tests.readelf_view import model_view, readelf_view

LIB_C = """
int d = 42;
__thread int t;
int f(void) { return d; }
int f_old(void) { return 1; }
__asm__(".symver f_old, f@V0.9");
static int g_impl(void) { return 5; }
static int (*resolve_g(void))(void) { return g_impl; }
int g(void) __attribute__((ifunc("resolve_g")));
int hidden_helper(void) { return 1; }
"""
# The runtime's shape: one version node; V0.9 only carries an old f.
LIB_MAP = """
V0.9 { };
V1.0 { global: f; d; t; g; local: *; } V0.9;
"""
PLAIN_C = "int bar(void) { return 7; }\n"
APP_C = """
#include <stdio.h>
extern int f(void);
extern int d;
extern int bar(void);
extern void maybe(void) __attribute__((weak));
int main(void) { printf("%d %d\\n", f(), d + bar()); puts("x"); if (maybe) maybe(); return 0; }
"""
STATIC_C = """
#include <stdio.h>
int my_static_func(int x) { return x * 2; }
int main(void) { printf("%d\\n", my_static_func(2)); return 0; }
"""

EM_AARCH64 = 183




@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every kind of ELF file the tests read, built once."""
    out = tmp_path_factory.mktemp("elf")
    for name, text in {"lib.c": LIB_C, "lib.map": LIB_MAP, "plain.c": PLAIN_C, "app.c": APP_C, "st.c": STATIC_C}.items():
        (out / name).write_text(text)
    shared = ("gcc", "-shared", "-fPIC", "-Wl,--build-id")
    run_tool(*shared, "-o", "libfoo.so", "-Wl,-soname,libfoo.so", "-Wl,--version-script=lib.map", "lib.c", cwd=out)
    run_tool(*shared, "-o", "libbar.so", "-Wl,-soname,libbar.so", "plain.c", cwd=out)
    link_app = ("gcc", "app.c", "-L.", "-lfoo", "-lbar", "-Wl,--build-id", "-Wl,-z,nodelete")
    run_tool(*link_app, "-o", "app", "-Wl,-rpath,$ORIGIN", cwd=out)
    run_tool(*link_app, "-o", "app-rpath", "-Wl,--disable-new-dtags", "-Wl,-rpath,/opt/x:$ORIGIN/../lib", cwd=out)
    run_tool("gcc", "-static", "-o", "static", "st.c", cwd=out)
    run_tool("gcc", "-static-pie", "-o", "static-pie", "st.c", cwd=out)
    for name in ("app", "libfoo.so"):
        shutil.copy(out / name, out / f"{name}.stripped")
        run_tool("strip", f"{name}.stripped", cwd=out)
    _without_section_headers(out / "app", out / "app.nosections")
    _without_section_headers(out / "libfoo.so", out / "libfoo.so.nosections")
    return {path.name: path for path in out.iterdir()}


def _without_section_headers(source: Path, target: Path) -> None:
    """What sstrip-like tools leave: only program headers to find the dynamic data."""
    data = bytearray(source.read_bytes())
    data[0x28:0x30] = bytes(8)  # e_shoff
    data[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
    target.write_bytes(data)


def _with_machine(source: Path, target: Path, machine: int) -> Path:
    data = bytearray(source.read_bytes())
    data[18:20] = struct.pack("<H", machine)
    target.write_bytes(data)
    return target


@pytest.mark.parametrize(
    "name",
    [
        "libfoo.so",
        "libbar.so",
        "app",
        "app-rpath",
        "static",
        "static-pie",
        "app.stripped",
        "libfoo.so.stripped",
    ],
)
def test_model_agrees_with_readelf(built: dict[str, Path], name: str) -> None:
    assert model_view(read_binary(built[name])) == readelf_view(built[name])


def test_shared_library_exports_with_versions_and_kinds(built: dict[str, Path]) -> None:
    lib = read_binary(built["libfoo.so"])
    assert (lib.format, lib.arch, lib.machine, lib.kind) == ("elf", "x64", "EM_X86_64", "shared-library")
    assert lib.soname == "libfoo.so"
    assert set(lib.exports) == {
        Symbol("f", "function", "V1.0"),
        Symbol("f", "function", "V0.9"),  # the hidden old version stays exported
        Symbol("g", "function", "V1.0"),  # IFUNC
        Symbol("d", "data", "V1.0"),
        Symbol("t", "data", "V1.0"),  # TLS
    }
    assert "hidden_helper" not in lib.export_names
    assert lib.defined >= {"f", "d", "t", "g"}
    assert lib.imports == {}  # only weak references to libc: none is required
    assert lib.build_id and len(lib.build_id) == 40


def test_app_imports_are_keyed_by_library(built: dict[str, Path]) -> None:
    app = read_binary(built["app"])
    assert app.kind == "executable"  # PIE: ET_DYN with an interpreter
    assert app.needed == ("libfoo.so", "libbar.so", "libc.so.6")
    assert app.runpath == ("$ORIGIN",) and app.rpath == ()
    assert set(app.imports["libfoo.so"]) == {
        Symbol("f", "function", "V1.0"),
        Symbol("d", "data", "V1.0"),  # copy-relocated into the app, still the library's
    }
    libc = {s.name: s for s in app.imports["libc.so.6"]}
    assert libc["printf"] == Symbol("printf", "function", "GLIBC_2.2.5")
    assert "puts" in libc
    assert Symbol("bar", "function", None) in app.imports[UNKNOWN_LIBRARY]  # unversioned library
    assert not any(s.name == "maybe" for symbols in app.imports.values() for s in symbols)  # weak
    assert "d" not in app.defined and "main" in app.defined
    assert app.exports == ()


def test_rpath_is_split_and_kept_apart_from_runpath(built: dict[str, Path]) -> None:
    app = read_binary(built["app-rpath"])
    assert app.rpath == ("/opt/x", "$ORIGIN/../lib") and app.runpath == ()


def test_static_executables(built: dict[str, Path]) -> None:
    static = read_binary(built["static"])
    assert (static.kind, static.exports, static.imports, static.needed) == ("executable", (), {}, ())
    assert {"my_static_func", "main", "printf"} <= static.defined
    assert read_binary(built["static-pie"]).kind == "executable"  # ET_DYN, no interpreter, DF_1_PIE


def test_stripped_files_keep_the_dynamic_view(built: dict[str, Path]) -> None:
    app, stripped = read_binary(built["app"]), read_binary(built["app.stripped"])
    assert stripped.imports == app.imports and stripped.runpath == app.runpath
    assert "main" not in stripped.defined  # .symtab is gone; .dynsym has no main
    assert read_binary(built["libfoo.so.stripped"]).exports == read_binary(built["libfoo.so"]).exports


@pytest.mark.parametrize("name", ["app", "libfoo.so"])
def test_file_without_section_headers_is_read_through_its_dynamic_segment(built: dict[str, Path], name: str) -> None:
    """What the loader sees (DT_SYMTAB, DT_GNU_HASH, DT_VERSYM, ...) is what the sections said."""
    full, bare = read_binary(built[name]), read_binary(built[f"{name}.nosections"])
    assert bare.imports if name == "app" else bare.exports
    same = ("exports", "imports", "needed", "soname", "rpath", "runpath", "build_id", "kind", "arch")
    assert {f: getattr(bare, f) for f in same} == {f: getattr(full, f) for f in same}
    assert bare.defined == full.export_names  # .symtab went with the section headers


def test_machine_names(built: dict[str, Path], tmp_path: Path) -> None:
    arm = read_binary(_with_machine(built["libfoo.so"], tmp_path / "arm64.so", EM_AARCH64))
    assert (arm.arch, arm.machine) == ("arm64", "EM_AARCH64")
    odd = read_binary(_with_machine(built["libfoo.so"], tmp_path / "odd.so", 0x5A5A))
    assert odd.arch == odd.machine == "EM_23130"


def test_unchanged_file_is_read_once(built: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "libfoo.so"
    shutil.copy(built["libfoo.so"], path)
    first = read_binary(path)
    assert read_binary(path) is first
    shutil.copy(built["libbar.so"], path)
    os.utime(path, ns=(1, 1))  # a new mtime even on coarse-grained file systems
    assert read_binary(path).soname == "libbar.so"


# --- bad input -------------------------------------------------------------------




def _bad_inputs(lib: Path, out: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what the problem statement must say)."""
    data = lib.read_bytes()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    dynsym = section_header(data, ".dynsym")
    dynsym_offset, = struct.unpack_from("<Q", data, dynsym + 24)
    oversized = bytearray(data)
    struct.pack_into("<Q", oversized, dynsym + 32, len(data))  # sh_size
    files = {
        "empty": (b"", "file is empty"),
        "text": (b"hello world\n", "not an ELF or PE binary: unknown format (starts with b'hell')"),
        "magic-only": (b"\x7fELF", "truncated ELF"),
        "cut-in-ident": (data[:10], "truncated ELF: identification needs 16 bytes, file has 10"),
        "cut-in-header": (data[:40], "truncated ELF: file header needs 64 bytes, file has 40"),
        "cut-in-section-headers": (data[: shoff + 100], "section header table extends past end of file"),
        "cut-in-dynsym": (data[: dynsym_offset + 30], "section header table extends past end of file"),
        "dynsym-past-end": (bytes(oversized), "section .dynsym extends past end of file"),
        "garbage-after-magic": (b"\x7fELF" + random.Random(1).randbytes(3000), "corrupt ELF: unknown class byte"),
        "garbage-after-ident": (data[:16] + random.Random(2).randbytes(3000), "ELF"),
    }
    paths: dict[str, tuple[Path, str]] = {}
    for name, (content, problem) in files.items():
        (out / name).write_bytes(content)
        paths[name] = (out / name, problem)
    (out / "a-directory").mkdir()
    paths["directory"] = (out / "a-directory", "is a directory")
    paths["missing"] = (out / "missing", "no such file")
    return paths


def test_bad_inputs_are_one_line_input_errors(built: dict[str, Path], tmp_path: Path) -> None:
    for name, (path, problem) in _bad_inputs(built["libfoo.so"], tmp_path).items():
        with pytest.raises(InputError) as caught:
            read_binary(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: "), name
        assert "\n" not in message, name
        assert problem in caught.value.problem, f"{name}: {caught.value.problem}"


def test_damaged_files_never_escape_as_other_errors(built: dict[str, Path], tmp_path: Path) -> None:
    """Random byte damage anywhere gives a model or an InputError, nothing else."""
    assert_damage_is_contained(built["libfoo.so"], tmp_path / "damaged.so", seed=7, attempts=150, keep=4, header=0x100)
