"""Read an ELF file into the shared `Binary` model.

Hand-written with `struct` instead of pyelftools: verify needs only the dynamic symbols, their
versions, the dynamic section, the build-id note, .symtab's global names and the copy
relocations, and pyelftools builds several objects per symbol (25x `readelf --dyn-syms -d` on a
117 MB libLLVM with 46k exports). Here each table is read once with one `os.pread` and unpacked
with `struct.iter_unpack`. pyelftools still names the machine.

Every table is checked before it is read, as readelf does: inside the file, entry sizes as
the ELF class says, counts and note lengths inside their table. A file without section headers
is read through its dynamic segment (DT_SYMTAB, DT_STRTAB, DT_GNU_HASH or DT_HASH for the count),
as the dynamic loader reads it. Anything else is one InputError line.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.enums import ENUM_E_MACHINE

from ci.binaries.model import UNKNOWN_LIBRARY, Binary, BinaryKind, Symbol, SymbolKind
from ci.core.errors import InputError

ELF_MAGIC = b"\x7fELF"

_ARCHES = {"EM_X86_64": "x64", "EM_AARCH64": "arm64", "EM_386": "x86", "EM_ARM": "arm"}
_MACHINE_NAMES = {value: name for name, value in ENUM_E_MACHINE.items() if name != "_default_"}

_SHT_SYMTAB, _SHT_DYNAMIC, _SHT_NOTE, _SHT_NOBITS, _SHT_DYNSYM = 2, 6, 7, 8, 11
_SHT_GNU_VERDEF, _SHT_GNU_VERNEED, _SHT_GNU_VERSYM = 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
_PT_LOAD, _PT_DYNAMIC, _PT_INTERP, _PT_NOTE = 1, 2, 3, 4
_PF_X = 1
_DT_NEEDED, _DT_HASH, _DT_STRTAB, _DT_SYMTAB, _DT_RELA, _DT_RELASZ, _DT_RELAENT = 1, 4, 5, 6, 7, 8, 9
_DT_STRSZ, _DT_SYMENT, _DT_SONAME, _DT_RPATH, _DT_REL, _DT_RELSZ, _DT_RELENT = 10, 11, 14, 15, 17, 18, 19
_DT_RUNPATH, _DT_GNU_HASH, _DT_VERSYM, _DT_FLAGS_1 = 29, 0x6FFFFEF5, 0x6FFFFFF0, 0x6FFFFFFB
_DT_VERDEF, _DT_VERDEFNUM, _DT_VERNEED, _DT_VERNEEDNUM = 0x6FFFFFFC, 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
_DF_1_PIE = 0x08000000
_ET_EXEC, _ET_DYN = 2, 3
_NT_GNU_BUILD_ID = 3
_VER_FLG_BASE = 0x1
_VERSYM_HIDDEN = 0x8000

# Binds and types glibc's loader binds (do_lookup_x): GNU_UNIQUE is STB_LOOS, IFUNC STT_LOOS.
_STB_GLOBAL, _STB_WEAK, _STB_GNU_UNIQUE = 1, 2, 10
_VISIBLE_BINDS = frozenset({_STB_GLOBAL, _STB_WEAK, _STB_GNU_UNIQUE})
_STT_NOTYPE, _STT_OBJECT, _STT_FUNC, _STT_COMMON, _STT_TLS, _STT_GNU_IFUNC = 0, 1, 2, 5, 6, 10
_KINDS: dict[int, SymbolKind] = {
    _STT_FUNC: "function", _STT_GNU_IFUNC: "function", _STT_OBJECT: "data", _STT_COMMON: "data", _STT_TLS: "data",
}
_SHN_UNDEF = 0
# The copy relocation of each machine: the executable holds a copy of a library's data symbol.
_R_COPY = {62: 5, 3: 5, 183: 1024, 40: 20, 243: 4}  # x86-64, i386, aarch64, arm, riscv


def read_elf(path: str | Path) -> Binary:
    """Parse `path`; any malformed input raises InputError with a one-line problem."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            reader = _Reader(path, stream.fileno(), os.fstat(stream.fileno()).st_size)
            return reader.binary()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def _printable(raw: bytes) -> str:
    """Text from the file, safe for a one-line message."""
    return "".join(c if c.isprintable() else "?" for c in raw.decode("utf-8", "replace"))


@dataclass(frozen=True)
class _Layout:
    """How the tables are encoded: byte order and class."""

    endian: str
    is64: bool

    @property
    def header(self) -> str:  # e_type .. e_shstrndx, after e_ident
        return self.endian + ("HHIQQQIHHHHHH" if self.is64 else "HHIIIIIHHHHHH")

    @property
    def section(self) -> str:  # sh_name type flags addr offset size link info addralign entsize
        return self.endian + ("IIQQQQIIQQ" if self.is64 else "IIIIIIIIII")

    @property
    def segment(self) -> str:  # as stored; _segments puts the fields in one order
        return self.endian + ("IIQQQQQQ" if self.is64 else "IIIIIIII")

    @property
    def symbol(self) -> str:
        return self.endian + ("IBBHQQ" if self.is64 else "IIIBBH")

    @property
    def dyn(self) -> str:
        return self.endian + ("qQ" if self.is64 else "iI")

    @property
    def rel(self) -> str:  # r_offset, r_info (rela: + r_addend, skipped by the entry size)
        return self.endian + ("QQ" if self.is64 else "II")

    @property
    def word(self) -> int:
        return 8 if self.is64 else 4


@dataclass(frozen=True)
class _Section:
    index: int
    name: str
    type: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    align: int
    entsize: int


@dataclass(frozen=True)
class _Segment:
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    align: int


@dataclass
class _Tables:
    """The dynamic tables as raw bytes, found through section headers or the dynamic segment."""

    where: str  # what names the tables in messages: "section" or "dynamic segment"
    dynsym: bytes = b""
    dynstr: bytes = b""
    versym: bytes = b""
    verdef: tuple[bytes, int, bytes] | None = None  # data, entry count, string table
    verneed: tuple[bytes, int, bytes] | None = None
    dynamic: list[tuple[int, int]] = field(default_factory=list)
    dynamic_strings: bytes = b""


@dataclass(frozen=True)
class _Version:
    name: str | None  # None for the base (unversioned) definition
    library: str | None = None  # the needed file, for versions from .gnu.version_r


class _Reader:
    def __init__(self, path: Path, fd: int, size: int):
        self.path, self.fd, self.size = path, fd, size

    # --- raw access -------------------------------------------------------------------

    def fail(self, problem: str) -> InputError:
        return InputError(self.path, problem)

    def read(self, offset: int, length: int, what: str) -> bytes:
        """Exactly `length` bytes at `offset`, or InputError naming `what` as cut off."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.fail(f"truncated ELF: {what} extends past end of file ({offset + length} > {self.size} bytes)")
        data = os.pread(self.fd, length, offset)
        if len(data) != length:  # the file shrank while we read it
            raise self.fail(f"truncated ELF: {what} extends past end of file")
        return data

    def table(self, offset: int, size: int, entsize: int, expected: int, what: str) -> bytes:
        """A table of `expected`-byte entries, refused as readelf refuses a bad sh_entsize."""
        if entsize != expected:
            raise self.fail(f"corrupt ELF: {what} entry size is {entsize}, expected {expected}")
        if size % expected:
            raise self.fail(f"corrupt ELF: {what} size {size} is not a multiple of its entry size {expected}")
        return self.read(offset, size, what)

    # --- headers ----------------------------------------------------------------------

    def binary(self) -> Binary:
        head = self.read(0, min(self.size, 64), "file header")
        if head[:4] != ELF_MAGIC:
            raise self.fail(f"not an ELF file (starts with {head[:4]!r})")
        if len(head) < 16:
            raise self.fail(f"truncated ELF: identification needs 16 bytes, file has {self.size}")
        if head[4] not in (1, 2):
            raise self.fail(f"corrupt ELF: unknown class byte {head[4]}")
        if head[5] not in (1, 2):
            raise self.fail(f"corrupt ELF: unknown data encoding byte {head[5]}")
        self.layout = layout = _Layout(endian="<" if head[5] == 1 else ">", is64=head[4] == 2)
        header_size = 16 + struct.calcsize(layout.header)
        if self.size < header_size:
            raise self.fail(f"truncated ELF: file header needs {header_size} bytes, file has {self.size}")
        fields = struct.unpack_from(layout.header, head, 16)
        e_type, self.machine_id = fields[0], fields[1]
        phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx = (fields[i] for i in (4, 5, 8, 9, 10, 11, 12))
        # Sections first: the section header table sits at the end, so a cut file trips on it.
        self.sections = self._sections(shoff, shentsize, shnum, shstrndx)
        self.segments = self._segments(phoff, phentsize, phnum)
        return self._model(e_type)

    def _sections(self, shoff: int, shentsize: int, shnum: int, shstrndx: int) -> list[_Section]:
        if shoff == 0:
            if shnum:
                raise self.fail(f"corrupt ELF: {shnum} section headers but no section header table")
            return []
        fmt, entsize = self.layout.section, 64 if self.layout.is64 else 40
        # With 0 in e_shnum (more than 0xff00 sections) the real count is section 0's sh_size.
        first = struct.unpack(fmt, self.table(shoff, entsize, shentsize, entsize, "section header table"))
        if shnum == 0:
            shnum = first[5]
        if shstrndx == 0xFFFF:  # SHN_XINDEX: the real index is section 0's sh_link
            shstrndx = first[6]
        table = self.table(shoff, shnum * entsize, shentsize, entsize, "section header table")
        raw = list(struct.iter_unpack(fmt, table))
        names = b""
        if shstrndx < len(raw) and raw[shstrndx][1] != _SHT_NOBITS:
            _, _, _, _, offset, size, *_ = raw[shstrndx]
            names = self.read(offset, size, "section name table") if offset + size <= self.size else b""
        sections = []
        for index, (name, sh_type, _, addr, offset, size, link, info, align, sh_entsize) in enumerate(raw):
            end = names.find(b"\0", name)
            label = _printable(names[name:end]) if name < len(names) and end > name else f"#{index}"
            if sh_type != _SHT_NOBITS and offset + size > self.size:
                raise self.fail(
                    f"truncated ELF: section {label} extends past end of file ({offset + size} > {self.size} bytes)")
            sections.append(_Section(index, label, sh_type, addr, offset, size, link, info, align, sh_entsize))
        return sections

    def _segments(self, phoff: int, phentsize: int, phnum: int) -> list[_Segment]:
        if phnum == 0:
            return []
        entsize = 56 if self.layout.is64 else 32
        data = self.table(phoff, phnum * entsize, phentsize, entsize, "program header table")
        segments = []
        for index, raw in enumerate(struct.iter_unpack(self.layout.segment, data)):
            if self.layout.is64:  # p_type p_flags p_offset p_vaddr p_paddr p_filesz p_memsz p_align
                p_type, flags, offset, vaddr, _, filesz, memsz, align = raw
            else:  # p_type p_offset p_vaddr p_paddr p_filesz p_memsz p_flags p_align
                p_type, offset, vaddr, _, filesz, memsz, flags, align = raw
            if offset + filesz > self.size:
                raise self.fail(
                    f"truncated ELF: segment {index} extends past end of file ({offset + filesz} > {self.size} bytes)")
            segments.append(_Segment(p_type, flags, offset, vaddr, filesz, memsz, align))
        return segments

    # --- the model --------------------------------------------------------------------

    def _model(self, e_type: int) -> Binary:
        tables = self._section_tables() if self.sections else self._segment_tables()
        tags = _DynamicTags.parse(tables.dynamic, self, tables.dynamic_strings)
        kind = _kind(e_type, tags.pie, any(s.type == _PT_INTERP for s in self.segments))
        versions = self._versions(tables)
        # Only an executable holds copy relocations: ld writes them nowhere else.
        copies = self._copy_relocations(tags) if kind == "executable" else frozenset()
        exports, imports, defined, copied = self._dynamic_symbols(tables, versions, copies)
        symtab = self._symtab_names()
        machine = _MACHINE_NAMES.get(self.machine_id, f"EM_{self.machine_id}")
        return Binary(
            path=self.path,
            format="elf",
            arch=_ARCHES.get(machine, machine),
            machine=machine,
            kind=kind,
            exports=tuple(exports),
            imports={library: tuple(symbols) for library, symbols in imports.items()},
            needed=tuple(tags.needed),
            soname=tags.soname,
            rpath=tags.rpath,
            runpath=tags.runpath,
            build_id=self._build_id(),
            # A copy-relocated symbol sits in this binary's .bss (also in .symtab) but is its library's.
            defined=frozenset((defined | (symtab or set())) - copied),
            symbol_tables=(".dynsym", ".symtab") if symtab is not None else (".dynsym",),
            sections=tuple(s.name for s in self.sections if s.index),
        )

    def _first(self, sh_type: int) -> _Section | None:
        return next((s for s in self.sections if s.type == sh_type), None)

    def _linked_strings(self, section: _Section) -> bytes:
        if not 0 < section.link < len(self.sections):
            raise self.fail(f"corrupt ELF: section {section.name} links to section {section.link}, "
                            "which does not exist")
        strings = self.sections[section.link]
        if strings.type == _SHT_NOBITS:
            return b""
        return self.read(strings.offset, strings.size, f"section {strings.name}")

    def _section_tables(self) -> _Tables:
        tables = _Tables(where="section")
        sym_size = 24 if self.layout.is64 else 16
        if dynsym := self._first(_SHT_DYNSYM):
            tables.dynsym = self.table(dynsym.offset, dynsym.size, dynsym.entsize, sym_size, f"section {dynsym.name}")
            tables.dynstr = self._linked_strings(dynsym)
        if versym := self._first(_SHT_GNU_VERSYM):
            tables.versym = self.table(versym.offset, versym.size, versym.entsize or 2, 2, f"section {versym.name}")
        for sh_type, slot in ((_SHT_GNU_VERDEF, "verdef"), (_SHT_GNU_VERNEED, "verneed")):
            if section := self._first(sh_type):
                data = self.read(section.offset, section.size, f"section {section.name}")
                setattr(tables, slot, (data, section.info, self._linked_strings(section)))
        if dynamic := self._first(_SHT_DYNAMIC):
            entsize = 16 if self.layout.is64 else 8
            data = self.table(dynamic.offset, dynamic.size, dynamic.entsize, entsize, f"section {dynamic.name}")
            tables.dynamic = _dynamic_entries(data, self.layout)
            tables.dynamic_strings = self._linked_strings(dynamic)
        return tables

    def _segment_tables(self) -> _Tables:
        """The loader's view: everything from PT_DYNAMIC, addresses mapped through PT_LOAD."""
        tables = _Tables(where="dynamic segment")
        dynamic = next((s for s in self.segments if s.type == _PT_DYNAMIC), None)
        if dynamic is None:
            return tables  # a static executable: no dynamic symbols at all
        entsize = 16 if self.layout.is64 else 8
        data = self.read(dynamic.offset, dynamic.filesz - dynamic.filesz % entsize, "dynamic segment")
        tables.dynamic = _dynamic_entries(data, self.layout)
        tags = dict(reversed(tables.dynamic))  # the first of each tag, as the loader takes it
        if _DT_STRTAB in tags:
            tables.dynamic_strings = tables.dynstr = self.at(tags[_DT_STRTAB], tags.get(_DT_STRSZ), "DT_STRTAB")
        if _DT_SYMTAB in tags:
            sym_size = 24 if self.layout.is64 else 16
            entsize = tags.get(_DT_SYMENT, sym_size)
            count = self._symbol_count(tags)
            tables.dynsym = self.at(tags[_DT_SYMTAB], count * sym_size, "DT_SYMTAB")
            if entsize != sym_size:
                raise self.fail(f"corrupt ELF: DT_SYMENT is {entsize}, expected {sym_size}")
            if _DT_VERSYM in tags:
                tables.versym = self.at(tags[_DT_VERSYM], count * 2, "DT_VERSYM")
        for address, number, slot in ((_DT_VERDEF, _DT_VERDEFNUM, "verdef"), (_DT_VERNEED, _DT_VERNEEDNUM, "verneed")):
            if address in tags:
                data = self.at(tags[address], None, _DT_NAMES[address])
                setattr(tables, slot, (data, tags.get(number, 0), tables.dynstr))
        return tables

    def at(self, address: int, length: int | None, what: str) -> bytes:
        """`length` bytes (None: up to the end of its segment) at virtual `address`, via PT_LOAD."""
        for segment in self.segments:
            if segment.type == _PT_LOAD and segment.vaddr <= address < segment.vaddr + segment.filesz:
                available = segment.vaddr + segment.filesz - address
                if length is None:
                    length = available
                if length > available:
                    raise self.fail(f"corrupt ELF: {what} ({length} bytes at 0x{address:x}) extends past its segment")
                return self.read(segment.offset + address - segment.vaddr, length, what)
        raise self.fail(f"corrupt ELF: {what} address 0x{address:x} is in no loaded segment")

    def _symbol_count(self, tags: dict[int, int]) -> int:
        """How many dynamic symbols there are: DT_HASH says so, DT_GNU_HASH's chains end at the last."""
        if _DT_HASH in tags:
            _, nchain = struct.unpack(self.layout.endian + "II", self.at(tags[_DT_HASH], 8, "DT_HASH"))
            return int(nchain)
        if _DT_GNU_HASH not in tags:
            raise self.fail("corrupt ELF: no section headers, and no DT_HASH or DT_GNU_HASH to count dynamic symbols")
        table = self.at(tags[_DT_GNU_HASH], None, "DT_GNU_HASH")
        if len(table) < 16:
            raise self.fail("corrupt ELF: DT_GNU_HASH header is cut off")
        nbuckets, symoffset, bloom_size, _ = struct.unpack_from(self.layout.endian + "IIII", table)
        buckets_at = 16 + bloom_size * self.layout.word
        chains_at = buckets_at + nbuckets * 4
        if chains_at > len(table):
            raise self.fail("corrupt ELF: DT_GNU_HASH buckets extend past their segment")
        last = max(struct.unpack_from(f"{self.layout.endian}{nbuckets}I", table, buckets_at), default=0)
        if last < symoffset:
            return int(symoffset)
        chains = table[chains_at:]
        words = struct.unpack(f"{self.layout.endian}{len(chains) // 4}I", chains[: len(chains) // 4 * 4])
        for index in range(last - symoffset, len(words)):
            if words[index] & 1:  # the low bit ends a chain
                return int(symoffset) + index + 1
        raise self.fail("corrupt ELF: DT_GNU_HASH chain does not end inside its segment")

    # --- versions and symbols ---------------------------------------------------------

    def _versions(self, tables: _Tables) -> dict[int, _Version]:
        """Version index -> version, from the definitions and the needs tables."""
        versions: dict[int, _Version] = {}
        endian = self.layout.endian
        if tables.verdef:
            data, count, strings = tables.verdef
            for entry, aux_at in self._chain(data, count, endian + "HHHHIII", 6, "version definition"):
                _, flags, index, _, _, _, _ = entry
                (name,) = struct.unpack_from(endian + "I", data, self._inside(aux_at, 8, data, "version definition"))
                versions[index] = _Version(None if flags & _VER_FLG_BASE else self.string(strings, name))
        if tables.verneed:
            data, count, strings = tables.verneed
            for entry, aux_at in self._chain(data, count, endian + "HHIII", 4, "version need"):
                _, aux_count, file, _, _ = entry
                library = self.string(strings, file)
                for _ in range(aux_count):
                    _, _, index, name, following = struct.unpack_from(
                        endian + "IHHII", data, self._inside(aux_at, 16, data, "version need"))
                    versions[index] = _Version(self.string(strings, name), library)
                    if not following:
                        break
                    aux_at += following
        return versions

    def _chain(self, data: bytes, count: int, fmt: str, next_field: int, what: str) -> Iterator[tuple[tuple[int, ...], int]]:
        """The `count` linked entries of a version table and where each one's first aux entry is."""
        size = struct.calcsize(fmt)
        if count * size > len(data):
            raise self.fail(f"corrupt ELF: {count} {what} entries cannot fit in {len(data)} bytes")
        at = 0
        for _ in range(count):
            entry = struct.unpack_from(fmt, data, self._inside(at, size, data, what))
            yield entry, at + entry[next_field - 1]
            if not entry[next_field]:
                return
            at += entry[next_field]

    def _inside(self, at: int, size: int, data: bytes, what: str) -> int:
        if not 0 <= at <= len(data) - size:
            raise self.fail(f"corrupt ELF: {what} entry at {at} lies outside its table")
        return at

    def string(self, strings: bytes, offset: int) -> str:
        end = strings.find(b"\0", offset)
        if offset >= len(strings) or end < 0:
            raise self.fail(f"corrupt ELF: string offset {offset} outside its string table ({len(strings)} bytes)")
        return strings[offset:end].decode("utf-8", "replace")

    def _symbols(self, data: bytes, strings: bytes) -> Iterator[tuple[int, str, int, int, int, int]]:
        """(index, name, bind, type, section index, value) of each named global symbol."""
        is64 = self.layout.is64
        for index, raw in enumerate(struct.iter_unpack(self.layout.symbol, data)):
            if is64:
                name, info, _, shndx, value, _ = raw
            else:
                name, value, _, info, _, shndx = raw
            if name and info >> 4 in _VISIBLE_BINDS:
                yield index, self.string(strings, name), info >> 4, info & 0xF, shndx, value

    def _bound(self, sym_type: int, value: int) -> bool:
        """Whether the dynamic loader binds a defined symbol of this type (not ld's version markers)."""
        return (sym_type in _KINDS or sym_type == _STT_NOTYPE) and (value != 0 or sym_type == _STT_TLS)

    def _kind_of(self, sym_type: int, value: int) -> SymbolKind:
        """An untyped (assembly) symbol is a function when it lies in an executable segment."""
        if sym_type != _STT_NOTYPE:
            return _KINDS[sym_type]
        executable = any(s.type == _PT_LOAD and s.flags & _PF_X and s.vaddr <= value < s.vaddr + s.memsz
                         for s in self.segments)
        return "function" if executable else "data"

    def _dynamic_symbols(
        self, tables: _Tables, versions: dict[int, _Version], copies: frozenset[int]
    ) -> tuple[list[Symbol], dict[str, list[Symbol]], set[str], set[str]]:
        """Exports, imports by library, defined names and copy-relocated names from the dynamic symbols."""
        exports: list[Symbol] = []
        imports: dict[str, list[Symbol]] = {}
        defined: set[str] = set()
        copied: set[str] = set()
        indexes = struct.unpack(f"{self.layout.endian}{len(tables.versym) // 2}H", tables.versym)
        for number, name, bind, sym_type, shndx, value in self._symbols(tables.dynsym, tables.dynstr):
            version = versions.get(indexes[number] & ~_VERSYM_HIDDEN) if number < len(indexes) else None
            version_name = version.name if version else None
            library = version.library if version else None
            if shndx == _SHN_UNDEF:
                if bind != _STB_GLOBAL:
                    continue  # a weak undefined symbol may stay unresolved: no import
            elif library is not None or number in copies:
                copied.add(name)  # a needed version or a copy relocation: the library's symbol
            elif self._bound(sym_type, value):
                exports.append(Symbol(name, self._kind_of(sym_type, value), version_name))
                defined.add(name)
                continue
            else:
                continue
            kind: SymbolKind = "data" if _KINDS.get(sym_type) == "data" else "function"
            imports.setdefault(library or UNKNOWN_LIBRARY, []).append(Symbol(name, kind, version_name))
        return exports, imports, defined, copied

    def _symtab_names(self) -> set[str] | None:
        """Global names .symtab defines (an app's own functions, a private runtime copy), without
        @VERSION; None when the file has no .symtab (stripped)."""
        symtab = self._first(_SHT_SYMTAB)
        if symtab is None:
            return None
        entsize = 24 if self.layout.is64 else 16
        data = self.table(symtab.offset, symtab.size, symtab.entsize, entsize, f"section {symtab.name}")
        strings = self._linked_strings(symtab)
        # ld writes versioned names into .symtab as name@VER / name@@VER.
        return {name.split("@", 1)[0] for _, name, _, sym_type, shndx, value in self._symbols(data, strings)
                if shndx != _SHN_UNDEF and self._bound(sym_type, value)}

    def _copy_relocations(self, tags: _DynamicTags) -> frozenset[int]:
        """Dynamic symbol indexes that a copy relocation fills (R_*_COPY in DT_RELA or DT_REL)."""
        copy_type = _R_COPY.get(self.machine_id)
        if copy_type is None:
            return frozenset()
        found: set[int] = set()
        layout = self.layout
        for table, size, entsize, expected in (
            (_DT_RELA, _DT_RELASZ, _DT_RELAENT, 3 * layout.word),
            (_DT_REL, _DT_RELSZ, _DT_RELENT, 2 * layout.word),
        ):
            if table not in tags.values or not tags.values.get(size):
                continue
            if tags.values.get(entsize, expected) != expected:
                raise self.fail(f"corrupt ELF: {_DT_NAMES[entsize]} is {tags.values[entsize]}, expected {expected}")
            data = self.at(tags.values[table], tags.values[size], _DT_NAMES[table])
            if len(data) % expected:
                raise self.fail(f"corrupt ELF: {_DT_NAMES[size]} is not a multiple of {expected}")
            shift, mask = (32, 0xFFFFFFFF) if layout.is64 else (8, 0xFF)
            for offset in range(0, len(data), expected):
                _, info = struct.unpack_from(layout.rel, data, offset)
                if info & mask == copy_type:
                    found.add(info >> shift)
        return frozenset(found)

    # --- notes ----------------------------------------------------------------------

    def _build_id(self) -> str | None:
        if self.sections:
            notes = [(s.offset, s.size, s.align, f"section {s.name}") for s in self.sections if s.type == _SHT_NOTE]
        else:
            notes = [(s.offset, s.filesz, s.align, "note segment") for s in self.segments if s.type == _PT_NOTE]
        for offset, size, align, what in notes:
            for name, note_type, desc in self._notes(self.read(offset, size, what), 8 if align == 8 else 4, what):
                if note_type == _NT_GNU_BUILD_ID and name == b"GNU\0":
                    return desc.hex()
        return None

    def _notes(self, data: bytes, align: int, what: str) -> Iterator[tuple[bytes, int, bytes]]:
        """(name, type, description) of each note; a length past its table is refused, as readelf does."""
        at = 0
        while at + 12 <= len(data):
            namesz, descsz, note_type = struct.unpack_from(self.layout.endian + "III", data, at)
            name_at = at + 12
            # Offsets aligned from the table's start, as readelf does for 8-byte notes.
            desc_at = -(-(name_at + namesz) // align) * align
            end = -(-(desc_at + descsz) // align) * align
            if desc_at + descsz > len(data):
                raise self.fail(f"corrupt ELF: note in {what} claims {namesz + descsz} bytes, "
                                f"{len(data) - name_at} left")
            yield data[name_at : name_at + namesz], note_type, data[desc_at : desc_at + descsz]
            at = end


_DT_NAMES = {_DT_RELA: "DT_RELA", _DT_RELASZ: "DT_RELASZ", _DT_RELAENT: "DT_RELAENT", _DT_REL: "DT_REL",
             _DT_RELSZ: "DT_RELSZ", _DT_RELENT: "DT_RELENT", _DT_VERDEF: "DT_VERDEF", _DT_VERNEED: "DT_VERNEED"}


def _dynamic_entries(data: bytes, layout: _Layout) -> list[tuple[int, int]]:
    """(tag, value) pairs up to DT_NULL."""
    entries = []
    for tag, value in struct.iter_unpack(layout.dyn, data):
        if tag == 0:
            break
        entries.append((tag, value))
    return entries


@dataclass
class _DynamicTags:
    needed: list[str]
    soname: str | None
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    pie: bool
    values: dict[int, int]  # the first value of each tag

    @classmethod
    def parse(cls, entries: list[tuple[int, int]], reader: _Reader, strings: bytes) -> _DynamicTags:
        tags = cls(needed=[], soname=None, rpath=(), runpath=(), pie=False, values=dict(reversed(entries)))
        for tag, value in entries:
            if tag == _DT_NEEDED:
                tags.needed.append(reader.string(strings, value))
            elif tag == _DT_SONAME:
                tags.soname = reader.string(strings, value)
            elif tag == _DT_RPATH:
                tags.rpath += tuple(reader.string(strings, value).split(":"))
            elif tag == _DT_RUNPATH:
                tags.runpath += tuple(reader.string(strings, value).split(":"))
            elif tag == _DT_FLAGS_1:
                tags.pie = bool(value & _DF_1_PIE)
        return tags


def _kind(e_type: int, pie: bool, has_interp: bool) -> BinaryKind:
    if e_type == _ET_EXEC:
        return "executable"
    if e_type != _ET_DYN:
        return "other"
    # A PIE is an ET_DYN too: it has an interpreter, or DF_1_PIE when it is static-pie.
    return "executable" if has_interp or pie else "shared-library"
