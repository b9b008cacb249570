"""The PE reader against mingw-built DLLs and EXEs, checked with mingw objdump -p.

Needs gcc-mingw-w64-x86-64 and binutils-mingw-w64-x86-64; without them these tests
fail rather than skip, so a CI machine missing them cannot pass silently.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from ci.binaries import Symbol, read_binary
from ci.core.errors import InputError
from tests.binaries_helpers import run_tool
from tests.damage import assert_damage_is_contained
from tests.pe_view import objdump_view

CC = "x86_64-w64-mingw32-gcc"
OBJDUMP = "x86_64-w64-mingw32-objdump"
NM = "x86_64-w64-mingw32-nm"

DLL_C = """
__declspec(dllexport) int counter = 7;
int add(int a, int b) { return a + b; }
int by_ordinal(void) { return 4; }
"""
DLL_DEF = """
LIBRARY mylib.dll
EXPORTS
    add
    counter DATA
    by_ordinal @42 NONAME
    Fwd = kernel32.GetTickCount
"""
EXE_C = """
#include <windows.h>
__declspec(dllimport) int add(int, int);
__declspec(dllimport) int counter;
int by_ordinal(void);
int main(void) { return add(counter, (int)GetTickCount()) + by_ordinal(); }
"""
# A delay-load descriptor table (with its null terminator) for delayed.dll, importing
# Nap by name and ordinal 7. mingw ld 2.40 links dlltool --output-delaylib descriptors
# but leaves the Delay Import data directory empty, so the test writes its own table
# and points the directory at it.
DELAY_S = """
    .section .rdata,"dr"
    .globl delay_descriptors
    .balign 8
delay_descriptors:
    .long 1                     # attributes: the fields are RVAs
    .rva delayed_name, delayed_handle, delayed_iat, delayed_int
    .long 0, 0, 0               # bound IAT, unload IAT, time stamp
    .fill 32, 1, 0              # terminator
delayed_name:
    .asciz "delayed.dll"
    .balign 8
delayed_int:
    .rva nap_name
    .long 0
    .quad 0x8000000000000007    # by ordinal
    .quad 0
nap_name:
    .short 0
    .asciz "Nap"
    .data
    .balign 8
delayed_handle:
    .quad 0
delayed_iat:
    .quad 0, 0, 0
"""
IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT = 13




@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pe")
    for name, text in {"dll.c": DLL_C, "dll.def": DLL_DEF, "exe.c": EXE_C, "delay.s": DELAY_S}.items():
        (out / name).write_text(text)
    run_tool(CC, "-shared", "-o", "mylib.dll", "dll.c", "dll.def", "-Wl,--out-implib,libmylib.a", "-Wl,--build-id", cwd=out)
    run_tool(CC, "-o", "app.exe", "exe.c", "-L.", "-lmylib", "-Wl,--build-id", cwd=out)
    run_tool(CC, "-o", "delayed.exe", "exe.c", "delay.s", "-L.", "-lmylib", cwd=out)
    _point_delay_directory(out / "delayed.exe", _symbol_address(out / "delayed.exe", "delay_descriptors"))
    return {path.name: path for path in out.iterdir()}


def _symbol_address(exe: Path, name: str) -> int:
    for line in run_tool(NM, exe, cwd=exe.parent).splitlines():
        if line.endswith(f" {name}"):
            return int(line.split()[0], 16)
    raise AssertionError(f"{name} not in {exe}")


def _point_delay_directory(exe: Path, address: int) -> None:
    """Set the PE32+ Delay Import data directory to the table at `address`."""
    data = bytearray(exe.read_bytes())
    (pe_offset,) = struct.unpack_from("<I", data, 0x3C)
    optional = pe_offset + 24
    assert struct.unpack_from("<H", data, optional) == (0x20B,)
    (image_base,) = struct.unpack_from("<Q", data, optional + 24)
    directory = optional + 112 + IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT * 8
    struct.pack_into("<II", data, directory, address - image_base, 64)
    exe.write_bytes(data)


# --- objdump -p ------------------------------------------------------------------


# --- tests -------------------------------------------------------------------------


def test_dll_exports_agree_with_objdump(built: dict[str, Path]) -> None:
    dll, objdump = read_binary(built["mylib.dll"]), objdump_view(built["mylib.dll"])
    assert objdump.format == "pei-x86-64" and objdump.dll
    assert (dll.format, dll.arch, dll.machine, dll.kind) == ("pe", "x64", "AMD64", "shared-library")
    assert dll.soname == objdump.export_name == "mylib.dll"
    assert {(s.name, s.ordinal, s.forwarder) for s in dll.exports} == objdump.exports
    assert {s.name: s for s in dll.exports}.keys() == {"add", "counter", "#42", "Fwd"}
    assert dll.export_names <= dll.defined and dll.symbol_tables == ("exports", "COFF symbol table")
    assert dll.imports == {lib: tuple(syms) for lib, syms in _symbols(objdump.imports).items()}


def test_export_kinds_and_forwarders(built: dict[str, Path]) -> None:
    exports = {s.name: s for s in read_binary(built["mylib.dll"]).exports}
    assert exports["add"].kind == "function"
    assert exports["counter"].kind == "data"  # lives in .data, not executable
    assert exports["#42"].ordinal == 42 and exports["#42"].kind == "function"
    assert exports["Fwd"].forwarder == "kernel32.GetTickCount"


def _symbols(imports: dict[str, list[tuple[str, int | None]]]) -> dict[str, list[Symbol]]:
    return {dll: [Symbol(name, ordinal=ordinal) for name, ordinal in entries] for dll, entries in imports.items()}


def test_exe_imports_agree_with_objdump(built: dict[str, Path]) -> None:
    exe, objdump = read_binary(built["app.exe"]), objdump_view(built["app.exe"])
    assert not objdump.dll and exe.kind == "executable"
    assert exe.imports == {lib: tuple(syms) for lib, syms in _symbols(objdump.imports).items()}
    assert set(exe.imports["mylib.dll"]) == {Symbol("add"), Symbol("counter"), Symbol("#42", ordinal=42)}
    assert Symbol("GetTickCount") in exe.imports["KERNEL32.dll"]
    assert exe.imports_from("kernel32.DLL") == exe.imports["KERNEL32.dll"]
    assert exe.needed == tuple(objdump.imports) and exe.needed[0] == "mylib.dll"
    assert exe.exports == () and exe.soname is None


def test_codeview_build_id_is_the_symbol_server_key(built: dict[str, Path]) -> None:
    for name in ("mylib.dll", "app.exe"):
        objdump = objdump_view(built[name])
        assert objdump.codeview, f"{name}: no RSDS entry"
        signature, age = objdump.codeview
        assert read_binary(built[name]).build_id == f"{signature.upper()}{age:X}"
    assert read_binary(built["delayed.exe"]).build_id is None  # linked without --build-id


def test_delay_imports_follow_regular_imports(built: dict[str, Path]) -> None:
    exe = read_binary(built["delayed.exe"])
    assert exe.delay_imports == {"delayed.dll": (Symbol("Nap"), Symbol("#7", ordinal=7))}
    assert "delayed.dll" not in exe.imports
    assert exe.needed == (*exe.imports, "delayed.dll")
    assert exe.imports_from("DELAYED.DLL") == (Symbol("Nap"), Symbol("#7", ordinal=7))


# --- bad input -------------------------------------------------------------------


def _section_table_end(data: bytes) -> int:
    (pe_offset,) = struct.unpack_from("<I", data, 0x3C)
    sections, optional_size = struct.unpack_from("<H12xH", data, pe_offset + 6)
    return pe_offset + 24 + optional_size + sections * 40


def test_bad_inputs_are_one_line_input_errors(built: dict[str, Path], tmp_path: Path) -> None:
    data = built["mylib.dll"].read_bytes()
    table_end = _section_table_end(data)
    cases = {
        "mz-only": (b"MZ", "corrupt PE"),
        "cut-in-dos-header": (data[:40], "corrupt PE"),
        "cut-in-optional-header": (data[:300], "truncated PE: section table extends past end of file"),
        "cut-in-section-table": (data[: table_end - 20], "truncated PE: section table extends past end of file"),
        "cut-in-sections": (data[: len(data) // 2], "truncated PE: section"),
        "garbage-after-mz": (b"MZ" + random.Random(3).randbytes(4000), "corrupt PE"),
    }
    for name, (content, problem) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputError) as caught:
            read_binary(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: ") and "\n" not in message, name
        assert problem in caught.value.problem, f"{name}: {caught.value.problem}"


def test_damaged_files_never_escape_as_other_errors(built: dict[str, Path], tmp_path: Path) -> None:
    """Random byte damage anywhere gives a model or an InputError, nothing else."""
    assert_damage_is_contained(built["app.exe"], tmp_path / "damaged.exe", seed=11, attempts=100, keep=2, header=0x400)
