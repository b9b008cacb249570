"""ELF files real tools make that a naive reader gets wrong, and hostile tables it must refuse."""

from __future__ import annotations

import resource
import struct
import time
from pathlib import Path

import pytest

from ci.binaries import Symbol, read_binary
from ci.binaries.model import UNKNOWN_LIBRARY
from ci.core.errors import InputError
from tests.binaries_helpers import run_tool, section_header
from tests.readelf_view import model_view, readelf_view

# An unversioned library with a data symbol, used by a non-PIE app: ld copies `shared_counter`
# into the app's .bss with an R_X86_64_COPY relocation and no version to say whose it is.
DATA_LIB_C = "int shared_counter = 5;\nint read_counter(void) { return shared_counter; }\n"
COPY_APP_C = "extern int shared_counter;\nint main(void) { return shared_counter; }\n"
# An assembly entry point without .type: STT_NOTYPE, yet the loader binds it.
NOTYPE_S = """
    .text
    .globl asm_entry
asm_entry:
    ret
    .data
    .globl asm_table
asm_table:
    .quad 1
"""
# A wrapper library defines its own f@@V2.0 and also imports libf.so's f@V1.0, as symbol
# versioning allows (the same shape as a wrapper around an older runtime).
LIB_C = "int f(void) { return 1; }\n"
LIB_MAP = "V1.0 { global: f; local: *; };\n"
WRAP_C = """
extern int f_from_lib(void);
__asm__(".symver f_from_lib, f@V1.0");
int f(void) { return 2 + f_from_lib(); }
"""
WRAP_MAP = "V2.0 { global: f; local: *; };\n"




@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("elf-edges")
    for name, text in {"data.c": DATA_LIB_C, "copy.c": COPY_APP_C, "notype.s": NOTYPE_S, "lib.c": LIB_C,
                       "lib.map": LIB_MAP, "wrap.c": WRAP_C, "wrap.map": WRAP_MAP}.items():
        (out / name).write_text(text)
    run_tool("gcc", "-shared", "-fPIC", "-o", "libdata.so", "-Wl,-soname,libdata.so", "data.c", cwd=out)
    run_tool("gcc", "-no-pie", "-fno-pic", "-o", "copy-app", "copy.c", "-L.", "-ldata", cwd=out)
    run_tool("gcc", "-shared", "-o", "libnotype.so", "notype.s", cwd=out)
    run_tool("gcc", "-shared", "-fPIC", "-o", "libf.so", "-Wl,-soname,libf.so", "-Wl,--version-script=lib.map", "lib.c",
         cwd=out)
    run_tool("gcc", "-shared", "-fPIC", "-o", "libwrap.so", "-Wl,--version-script=wrap.map", "wrap.c", "-L.", "-lf",
             cwd=out)
    run_tool("llvm-objcopy", "--strip-sections", "libdata.so", "libdata.so.nosections", cwd=out)
    # The same pair as ELF32 (i386, REL relocations), freestanding: no 32-bit libc is needed.
    (out / "copy32.c").write_text(COPY_APP_C.replace("int main(void) { return", "void _start(void) { (void)"))
    i686 = ("clang", "--target=i686-linux-gnu", "-nostdlib", "-fuse-ld=lld")
    run_tool(*i686, "-shared", "-fPIC", "-o", "libdata32.so", "-Wl,-soname,libdata32.so", "data.c", cwd=out)
    run_tool(*i686, "-fno-pic", "-no-pie", "-o", "copy-app32", "copy32.c", "./libdata32.so", cwd=out)
    # Big-endian ELF64 (PowerPC64), versioned, with a build-id.
    run_tool("clang", "--target=powerpc64-linux-gnu", "-nostdlib", "-fuse-ld=lld", "-shared", "-fPIC",
             "-Wl,--version-script=lib.map", "-Wl,--build-id", "-o", "libf-ppc64be.so", "lib.c", cwd=out)
    return {path.name: path for path in out.iterdir()}


@pytest.mark.parametrize("name, machine", [("copy-app", "EM_X86_64"), ("copy-app32", "EM_386")])
def test_unversioned_copy_relocation_is_an_import_not_a_definition(
    built: dict[str, Path], name: str, machine: str
) -> None:
    app = read_binary(built[name])
    assert (app.kind, app.machine) == ("executable", machine)
    assert "shared_counter" not in app.export_names
    assert "shared_counter" not in app.defined and app.defined & {"main", "_start"}
    assert Symbol("shared_counter", "data", None) in app.imports[UNKNOWN_LIBRARY]
    assert model_view(app) == readelf_view(built[name])


@pytest.mark.parametrize("name, machine", [("libdata32.so", "EM_386"), ("libf-ppc64be.so", "EM_PPC64")])
def test_other_classes_and_byte_orders_agree_with_readelf(built: dict[str, Path], name: str, machine: str) -> None:
    lib = read_binary(built[name])
    assert lib.machine == machine and lib.exports
    assert model_view(lib) == readelf_view(built[name])


def test_the_library_keeps_the_copied_symbol_as_its_export(built: dict[str, Path]) -> None:
    lib = read_binary(built["libdata.so"])
    assert Symbol("shared_counter", "data", None) in lib.exports and "shared_counter" in lib.defined


def test_untyped_symbols_the_loader_binds_are_exports(built: dict[str, Path]) -> None:
    lib = read_binary(built["libnotype.so"])
    exports = {s.name: s.kind for s in lib.exports}
    assert exports["asm_entry"] == "function" and exports["asm_table"] == "data"
    assert {"asm_entry", "asm_table"} <= lib.defined
    assert model_view(lib) == readelf_view(built["libnotype.so"])


def test_a_name_both_imported_and_defined_stays_defined(built: dict[str, Path]) -> None:
    lib = read_binary(built["libwrap.so"])
    assert lib.imports == {"libf.so": (Symbol("f", "function", "V1.0"),)}
    assert lib.exports == (Symbol("f", "function", "V2.0"),)
    assert "f" in lib.defined  # its own definition: what verify's private-copy check looks for
    assert model_view(lib) == readelf_view(built["libwrap.so"])


def test_objcopy_strip_sections_keeps_the_dynamic_view(built: dict[str, Path]) -> None:
    full, bare = read_binary(built["libdata.so"]), read_binary(built["libdata.so.nosections"])
    assert bare.exports == full.exports and bare.soname == "libdata.so" and bare.imports == full.imports


# --- hostile tables ------------------------------------------------------------------




def _read_bounded(path: Path) -> InputError:
    """Read `path`, expecting one InputError line within a second and 64 MiB more memory."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    with pytest.raises(InputError) as caught:
        read_binary(path)
    assert time.monotonic() - start < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB
    assert "\n" not in str(caught.value) and str(caught.value).startswith(f"{path}: ")
    return caught.value


@pytest.mark.parametrize("section, entsize", [(".dynsym", 1), (".dynsym", 0), (".dynamic", 3), (".gnu.version", 1)])
def test_hostile_entry_size_is_refused(built: dict[str, Path], tmp_path: Path, section: str, entsize: int) -> None:
    data = bytearray(built["libwrap.so"].read_bytes())
    struct.pack_into("<Q", data, section_header(data, section) + 56, entsize)  # sh_entsize
    path = tmp_path / "entsize.so"
    path.write_bytes(data)
    error = _read_bounded(path)
    assert f"section {section} entry size is {entsize}, expected" in error.problem


@pytest.mark.parametrize("field, value", [("namesz", 0xFFFFFFFF), ("descsz", 0xFFFFFFF0), ("descsz", 21)])
def test_oversized_note_length_is_refused(built: dict[str, Path], tmp_path: Path, field: str, value: int) -> None:
    data = bytearray(built["libwrap.so"].read_bytes())
    (offset,) = struct.unpack_from("<Q", data, section_header(data, ".note.gnu.build-id") + 24)
    struct.pack_into("<I", data, offset + (0 if field == "namesz" else 4), value)
    path = tmp_path / "note.so"
    path.write_bytes(data)
    error = _read_bounded(path)
    assert "note in section .note.gnu.build-id claims" in error.problem


def test_no_section_headers_and_no_hash_table_is_refused(built: dict[str, Path], tmp_path: Path) -> None:
    """Without DT_HASH or DT_GNU_HASH nothing says how many dynamic symbols there are: refuse, never guess."""
    data = bytearray(built["libdata.so.nosections"].read_bytes())
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    (phnum,) = struct.unpack_from("<H", data, 0x38)
    dynamic = next(struct.unpack_from("<Q", data, phoff + i * 56 + 8)[0] for i in range(phnum)
                   if struct.unpack_from("<I", data, phoff + i * 56)[0] == 2)
    for at in range(dynamic, len(data), 16):
        tag, _ = struct.unpack_from("<qQ", data, at)
        if tag == 0:
            break
        if tag in (4, 0x6FFFFEF5):  # DT_HASH, DT_GNU_HASH -> DT_DEBUG, which means nothing here
            struct.pack_into("<q", data, at, 21)
    path = tmp_path / "nohash.so"
    path.write_bytes(data)
    assert "no DT_HASH or DT_GNU_HASH" in _read_bounded(path).problem
