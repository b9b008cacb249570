"""Read an ELF file into the shared `Binary` model with pyelftools.

The file layout (header, program and section header tables, section contents) is
checked against the file size before pyelftools sees it, so a truncated file is
reported as such instead of as whatever pyelftools happens to trip over.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from elftools.common.exceptions import ELFError
from elftools.construct.core import ConstructError
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVersionSection
from elftools.elf.sections import Section, Symbol as ElfSymbol

from ci.binaries.model import UNKNOWN_LIBRARY, Binary, Symbol, SymbolKind
from ci.core.errors import InputError

ELF_MAGIC = b"\x7fELF"

_ARCHES = {"EM_X86_64": "x64", "EM_AARCH64": "arm64", "EM_386": "x86", "EM_ARM": "arm"}

# pyelftools names the GNU OS-specific values by their generic slot:
# STT_LOOS is STT_GNU_IFUNC and STB_LOOS is STB_GNU_UNIQUE on GNU/Linux.
_SYMBOL_KINDS: dict[str, SymbolKind] = {
    "STT_FUNC": "function",
    "STT_LOOS": "function",
    "STT_OBJECT": "data",
    "STT_TLS": "data",
}
_VISIBLE_BINDS = {"STB_GLOBAL", "STB_WEAK", "STB_LOOS"}

_VER_FLG_BASE = 0x1
_VERSYM_HIDDEN = 0x8000
_DF_1_PIE = 0x08000000
_SHT_NOBITS = 8

# What pyelftools raises on malformed contents, beyond its own ELFError.
_PARSE_ERRORS = (ELFError, ConstructError, struct.error, IndexError, KeyError, ValueError, ArithmeticError)


def read_elf(path: str | Path) -> Binary:
    """Parse `path`; any malformed input raises InputError with a one-line problem."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            _check_layout(path, stream, size)
            try:
                return _read(path, ELFFile(stream))
            except _PARSE_ERRORS as exc:
                raise InputError(path, f"corrupt ELF: {_one_line(exc)}") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _printable(raw: bytes) -> str:
    """Text from the file, safe for a one-line message."""
    return "".join(c if c.isprintable() else "?" for c in raw.decode("utf-8", "replace"))


# --- layout checks -------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """How the header tables are encoded: byte order, class and entry formats."""

    endian: str
    is64: bool

    @property
    def header(self) -> str:  # e_type .. e_shstrndx, after e_ident
        return self.endian + ("HHIQQQIHHHHHH" if self.is64 else "HHIIIIIHHHHHH")

    @property
    def section(self) -> str:  # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link
        return self.endian + ("IIQQQQI" if self.is64 else "IIIIIII")

    @property
    def segment_fields(self) -> tuple[str, int, int]:
        """Format of one program header and the indexes of p_offset, p_filesz in it."""
        if self.is64:
            return self.endian + "IIQQQQ", 2, 5
        return self.endian + "IIIIII", 1, 4

    @property
    def header_size(self) -> int:
        return 16 + struct.calcsize(self.header)

    @property
    def section_entry_size(self) -> int:
        return 64 if self.is64 else 40

    @property
    def segment_entry_size(self) -> int:
        return 56 if self.is64 else 32


def _check_layout(path: Path, stream: BinaryIO, size: int) -> None:
    """Raise InputError unless every table and section the header points to is in the file."""
    head = stream.read(64)
    if size == 0:
        raise InputError(path, "file is empty")
    if head[:4] != ELF_MAGIC:
        raise InputError(path, f"not an ELF file (starts with {head[:4]!r})")
    if len(head) < 16:
        raise InputError(path, f"truncated ELF: identification needs 16 bytes, file has {size}")
    if head[4] not in (1, 2):
        raise InputError(path, f"corrupt ELF: unknown class byte {head[4]}")
    if head[5] not in (1, 2):
        raise InputError(path, f"corrupt ELF: unknown data encoding byte {head[5]}")
    layout = _Layout(endian="<" if head[5] == 1 else ">", is64=head[4] == 2)
    if size < layout.header_size:
        raise InputError(path, f"truncated ELF: file header needs {layout.header_size} bytes, file has {size}")
    fields = struct.unpack_from(layout.header, head, 16)
    phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx = (fields[i] for i in (4, 5, 8, 9, 10, 11, 12))
    # Sections first: the section header table sits at the end, so a cut file trips on it.
    _check_sections(path, stream, size, layout, shoff, shentsize, shnum, shstrndx)
    _check_segments(path, stream, size, layout, phoff, phentsize, phnum)


def _check_table(path: Path, size: int, what: str, offset: int, entsize: int, count: int, expected: int) -> None:
    if entsize != expected:
        raise InputError(path, f"corrupt ELF: {what} entry size is {entsize}, expected {expected}")
    end = offset + entsize * count
    if end > size:
        raise InputError(path, f"truncated ELF: {what}s extend past end of file ({end} > {size} bytes)")


def _check_segments(
    path: Path, stream: BinaryIO, size: int, layout: _Layout, phoff: int, phentsize: int, phnum: int
) -> None:
    if phnum == 0:
        return
    _check_table(path, size, "program header", phoff, phentsize, phnum, layout.segment_entry_size)
    fmt, offset_at, filesz_at = layout.segment_fields
    stream.seek(phoff)
    table = stream.read(phentsize * phnum)
    for index in range(phnum):
        fields = struct.unpack_from(fmt, table, index * phentsize)
        end = fields[offset_at] + fields[filesz_at]
        if end > size:
            raise InputError(path, f"truncated ELF: segment {index} extends past end of file ({end} > {size} bytes)")


def _check_sections(
    path: Path, stream: BinaryIO, size: int, layout: _Layout, shoff: int, shentsize: int, shnum: int, shstrndx: int
) -> None:
    if shoff == 0:
        if shnum:
            raise InputError(path, f"corrupt ELF: {shnum} section headers but no section header table")
        return
    # With 0 in e_shnum (more than 0xff00 sections) the real count is section 0's sh_size.
    _check_table(path, size, "section header", shoff, shentsize, shnum or 1, layout.section_entry_size)
    stream.seek(shoff)
    first = struct.unpack_from(layout.section, stream.read(shentsize))
    if shnum == 0:
        shnum = first[5]
        _check_table(path, size, "section header", shoff, shentsize, shnum, layout.section_entry_size)
    if shstrndx == 0xFFFF:  # SHN_XINDEX: the real index is section 0's sh_link
        shstrndx = first[6]
    stream.seek(shoff)
    table = stream.read(shentsize * shnum)
    headers = [struct.unpack_from(layout.section, table, i * shentsize) for i in range(shnum)]
    for index, (_, sh_type, _, _, offset, length, _) in enumerate(headers):
        if sh_type != _SHT_NOBITS and offset + length > size:
            name = _section_name(stream, headers, shstrndx, index, size)
            raise InputError(
                path, f"truncated ELF: section {name} extends past end of file ({offset + length} > {size} bytes)"
            )


def _section_name(stream: BinaryIO, headers: list[tuple[int, ...]], shstrndx: int, index: int, size: int) -> str:
    """The section's name for a message, or its index when the name table is unusable."""
    if shstrndx < len(headers):
        _, _, _, _, offset, length, _ = headers[shstrndx]
        start = offset + headers[index][0]
        if offset + length <= size and start < offset + length:
            stream.seek(start)
            name = stream.read(min(256, offset + length - start)).split(b"\0", 1)[0]
            if name:
                return _printable(name)
    return f"#{index}"


# --- model ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Version:
    name: str | None  # None for the base (unversioned) definition
    library: str | None = None  # the needed file, for versions from .gnu.version_r


@dataclass
class _DynamicTags:
    needed: list[str]
    soname: str | None
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    pie: bool


def _read(path: Path, elf: ELFFile) -> Binary:
    machine = elf.header["e_machine"]
    machine = machine if isinstance(machine, str) else f"EM_{machine}"
    versions = _versions(elf)
    markers = {v.name for v in versions.values() if v.name and v.library is None}
    exports, imports = _dynamic_symbols(elf, versions, markers)
    tags = _dynamic_tags(elf)
    # A copy-relocated import sits in this binary's .bss but belongs to its library.
    copied = {s.name for symbols in imports.values() for s in symbols}
    return Binary(
        path=path,
        format="elf",
        arch=_ARCHES.get(machine, machine),
        machine=machine,
        kind=_kind(elf, tags.pie),
        exports=tuple(exports),
        imports={lib: tuple(symbols) for lib, symbols in imports.items()},
        needed=tuple(tags.needed),
        soname=tags.soname,
        rpath=tags.rpath,
        runpath=tags.runpath,
        build_id=_build_id(elf),
        defined=_defined(elf, markers) - copied,
    )


def _kind(elf: ELFFile, pie: bool) -> str:
    e_type = elf.header["e_type"]
    if e_type == "ET_EXEC":
        return "executable"
    if e_type != "ET_DYN":
        return "other"
    # A PIE is an ET_DYN too: it has an interpreter, or DF_1_PIE when it is static-pie.
    has_interp = any(True for _ in elf.iter_segments(type="PT_INTERP"))
    return "executable" if has_interp or pie else "shared-library"


def _first_section(elf: ELFFile, sh_type: str) -> Section | None:
    return next(elf.iter_sections(type=sh_type), None)


def _version_section(elf: ELFFile, sh_type: str) -> GNUVersionSection | None:
    section = _first_section(elf, sh_type)
    # pyelftools walks sh_info entries whatever the size: a damaged count would spin.
    if section is not None and section["sh_info"] * section.version_struct.sizeof() > section["sh_size"]:
        raise ELFError(f"section {section.name} claims {section['sh_info']} entries in {section['sh_size']} bytes")
    return section


def _versions(elf: ELFFile) -> dict[int, _Version]:
    """Version index -> version, from the definitions and the needs tables."""
    versions: dict[int, _Version] = {}
    verdef = _version_section(elf, "SHT_GNU_verdef")
    if verdef is not None:
        for entry, aux in verdef.iter_versions():
            base = entry["vd_flags"] & _VER_FLG_BASE
            versions[entry["vd_ndx"]] = _Version(None if base else next(aux).name)
    verneed = _version_section(elf, "SHT_GNU_verneed")
    if verneed is not None:
        for entry, auxes in verneed.iter_versions():
            for aux in auxes:
                versions[aux["vna_other"]] = _Version(aux.name, entry.name)
    return versions


def _version_indexes(elf: ELFFile) -> tuple[int, ...]:
    """.gnu.version as raw indexes (hidden bit cleared), one per .dynsym entry."""
    versym = _first_section(elf, "SHT_GNU_versym")
    if versym is None:
        return ()
    data = versym.data()
    endian = "<" if elf.little_endian else ">"
    raw = struct.unpack(f"{endian}{len(data) // 2}H", data[: len(data) // 2 * 2])
    return tuple(index & ~_VERSYM_HIDDEN for index in raw)


def _dynamic_symbols(
    elf: ELFFile, versions: dict[int, _Version], markers: set[str]
) -> tuple[list[Symbol], dict[str, list[Symbol]]]:
    """Exports and imports (by providing library) from .dynsym."""
    exports: list[Symbol] = []
    imports: dict[str, list[Symbol]] = {}
    dynsym = _first_section(elf, "SHT_DYNSYM")
    if dynsym is None:
        return exports, imports
    indexes = _version_indexes(elf)
    for number, sym in enumerate(dynsym.iter_symbols()):
        bind = sym["st_info"]["bind"]
        if bind not in _VISIBLE_BINDS or not sym.name:
            continue
        version = versions.get(indexes[number]) if number < len(indexes) else None
        version_name = version.name if version else None
        library = version.library if version else None
        kind = _SYMBOL_KINDS.get(sym["st_info"]["type"])
        undefined = sym["st_shndx"] == "SHN_UNDEF"
        if not undefined and library is None:
            if kind and not _is_marker(sym, markers):
                exports.append(Symbol(sym.name, kind, version_name))
        # A defined symbol with a needed version is a copy-relocated import; a weak
        # undefined one may stay unresolved, so it is no import.
        elif not undefined or bind == "STB_GLOBAL":
            symbol = Symbol(sym.name, "data" if kind == "data" else "function", version_name)
            imports.setdefault(library or UNKNOWN_LIBRARY, []).append(symbol)
    return exports, imports


def _is_marker(sym: ElfSymbol, markers: set[str]) -> bool:
    """ld emits an absolute symbol per defined version (e.g. `V1.0`): not a real export."""
    return sym["st_shndx"] == "SHN_ABS" and sym.name in markers


def _defined(elf: ELFFile, markers: set[str]) -> frozenset[str]:
    """Global defined function/data names from .symtab and .dynsym, without @VERSION."""
    names: set[str] = set()
    for table_type in ("SHT_SYMTAB", "SHT_DYNSYM"):
        for table in elf.iter_sections(type=table_type):
            names.update(_defined_in(table.iter_symbols(), markers))
    return frozenset(names)


def _defined_in(symbols: Iterable[ElfSymbol], markers: set[str]) -> Iterator[str]:
    for sym in symbols:
        if (
            sym["st_info"]["bind"] in _VISIBLE_BINDS
            and sym["st_info"]["type"] in _SYMBOL_KINDS
            and sym["st_shndx"] != "SHN_UNDEF"
            and sym.name
            and not _is_marker(sym, markers)
        ):
            # ld writes versioned names into .symtab as name@VER / name@@VER.
            yield sym.name.split("@", 1)[0]


def _dynamic_tags(elf: ELFFile) -> _DynamicTags:
    tags = _DynamicTags(needed=[], soname=None, rpath=(), runpath=(), pie=False)
    # Without section headers, the dynamic segment is the only way in.
    tables = list(elf.iter_sections(type="SHT_DYNAMIC")) or (
        list(elf.iter_segments(type="PT_DYNAMIC")) if elf.num_sections() == 0 else []
    )
    for table in tables[:1]:
        for tag in table.iter_tags():
            match tag.entry.d_tag:
                case "DT_NEEDED":
                    tags.needed.append(tag.needed)
                case "DT_SONAME":
                    tags.soname = tag.soname
                case "DT_RPATH":
                    tags.rpath += tuple(tag.rpath.split(":"))
                case "DT_RUNPATH":
                    tags.runpath += tuple(tag.runpath.split(":"))
                case "DT_FLAGS_1":
                    tags.pie = bool(tag.entry.d_val & _DF_1_PIE)
    return tags


def _build_id(elf: ELFFile) -> str | None:
    tables = list(elf.iter_sections(type="SHT_NOTE")) or (
        list(elf.iter_segments(type="PT_NOTE")) if elf.num_sections() == 0 else []
    )
    for table in tables:
        for note in table.iter_notes():
            if note["n_type"] == "NT_GNU_BUILD_ID" and note["n_name"] == "GNU":
                return note["n_desc"]
    return None
