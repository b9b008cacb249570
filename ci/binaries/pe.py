"""Read a PE file (EXE or DLL) into the shared `Binary` model with pefile.

Everything read is first checked to lie inside the file (headers, sections, the COFF symbol and
string tables, certificates, debug data), so a cut file is refused instead of read short.
pefile's caps on export and import counts and name lengths are raised to what the file's size
allows, and anything it still gives up on is an error, never a silently shorter answer.
`defined` comes from the COFF symbol table (mingw) when there is one, else from the public
symbols of the binary's PDB when it sits beside it (lld-link, MSVC).
"""

from __future__ import annotations

import struct
from pathlib import Path, PureWindowsPath
from typing import Any

import pefile

from ci.binaries.model import Binary, Symbol, SymbolKind
from ci.binaries.pdb import public_names
from ci.core.errors import InputError

PE_MAGIC = b"MZ"

_ARCHES = {"AMD64": "x64", "ARM64": "arm64", "I386": "x86", "ARMNT": "arm"}
_DIRECTORIES = [
    pefile.DIRECTORY_ENTRY[name]
    for name in (
        "IMAGE_DIRECTORY_ENTRY_EXPORT",
        "IMAGE_DIRECTORY_ENTRY_IMPORT",
        "IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT",
        "IMAGE_DIRECTORY_ENTRY_DEBUG",
    )
]
_IMAGE_FILE_DLL = 0x2000
_IMAGE_SCN_MEM_EXECUTE = 0x20000000
_IMAGE_DEBUG_TYPE_CODEVIEW = 2
_IMAGE_DIRECTORY_ENTRY_SECURITY = 4  # its "RVA" is a file offset
_COFF_SYMBOL_SIZE = 18
_IMAGE_SYM_CLASS_EXTERNAL = 2
_LONGEST_NAME = 65536  # a name longer than this is no real symbol
# pefile's warnings when it stops reading a table early; each would be a silently shorter answer.
_GAVE_UP = ("Assuming corrupt", "too many imported symbols", "Excessive number of imports")

# pefile reports most damage as warnings, but raises these on what it cannot skip.
_PARSE_ERRORS = (pefile.PEFormatError, struct.error, IndexError, KeyError, ValueError, ArithmeticError)


def read_pe(path: str | Path) -> Binary:
    """Parse `path`; any malformed input raises InputError with a one-line problem."""
    path = Path(path)
    try:
        # Read into memory: pefile's own file mode keeps an mmap open until close(),
        # and its close() runs a full garbage collection.
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if not data.startswith(PE_MAGIC):
        raise InputError(path, f"not a PE file (starts with {data[:4]!r})")
    _check_section_table(path, data)
    # Each export needs a 4-byte slot in the file: pefile's caps (8192 exports, 120 aliases of one
    # address) are raised to what the file can hold, so work stays bounded by its size.
    most = max(pefile.MAX_SYMBOL_EXPORT_COUNT, len(data) // 4)
    try:
        pe = pefile.PE(data=data, fast_load=True, max_symbol_exports=most, max_repeated_symbol=most)
        _check_sections(path, pe, len(data))
        _check_file_tables(path, pe, len(data))
        pe.parse_data_directories(directories=_DIRECTORIES)
        _check_debug_data(path, pe, len(data))
        gave_up = next((w for w in pe.get_warnings() if any(g in w for g in _GAVE_UP)), None)
        if gave_up:
            raise InputError(path, f"corrupt PE: {_one_line(Exception(gave_up))}")
        return _read(path, pe, data)
    except _PARSE_ERRORS as exc:
        raise InputError(path, f"corrupt PE: {_one_line(exc)}") from None


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).strip("'\"").split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _printable(raw: bytes) -> str:
    """Text from the file, safe for a one-line message."""
    return "".join(c if c.isprintable() else "?" for c in raw.decode("utf-8", "replace"))


def _check_section_table(path: Path, data: bytes) -> None:
    """Name a cut-off section table plainly; pefile would report a short header or nothing."""
    if len(data) < 0x40:
        return  # pefile reports the short DOS header
    (pe_offset,) = struct.unpack_from("<I", data, 0x3C)
    if data[pe_offset : pe_offset + 4] != b"PE\0\0" or pe_offset + 24 > len(data):
        return  # not a PE signature: pefile says so
    sections, optional_size = struct.unpack_from("<H12xH", data, pe_offset + 6)
    end = pe_offset + 24 + optional_size + sections * 40
    if end > len(data):
        raise InputError(path, f"truncated PE: section table extends past end of file ({end} > {len(data)} bytes)")


def _check_sections(path: Path, pe: pefile.PE, size: int) -> None:
    """pefile reads a cut-off section as shorter data; call the file truncated instead."""
    for section in pe.sections:
        end = section.PointerToRawData + section.SizeOfRawData
        if section.SizeOfRawData and end > size:
            name = _printable(section.Name.rstrip(b"\0"))
            raise InputError(path, f"truncated PE: section {name} extends past end of file ({end} > {size} bytes)")


def _check_file_tables(path: Path, pe: pefile.PE, size: int) -> None:
    """The COFF symbol and string tables and the certificates sit after the sections: a cut file ends in them."""
    start, count = pe.FILE_HEADER.PointerToSymbolTable, pe.FILE_HEADER.NumberOfSymbols
    if start:
        strings = start + count * _COFF_SYMBOL_SIZE
        if strings + 4 > size:
            raise InputError(path, f"truncated PE: COFF symbol table extends past end of file "
                                   f"({strings + 4} > {size} bytes)")
        (length,) = struct.unpack_from("<I", pe.__data__, strings)
        if strings + length > size:
            raise InputError(path, f"truncated PE: COFF string table extends past end of file "
                                   f"({strings + length} > {size} bytes)")
    directories = pe.OPTIONAL_HEADER.DATA_DIRECTORY
    if len(directories) > _IMAGE_DIRECTORY_ENTRY_SECURITY:
        security = directories[_IMAGE_DIRECTORY_ENTRY_SECURITY]
        if security.VirtualAddress and security.VirtualAddress + security.Size > size:
            raise InputError(path, f"truncated PE: certificate table extends past end of file "
                                   f"({security.VirtualAddress + security.Size} > {size} bytes)")


def _check_debug_data(path: Path, pe: pefile.PE, size: int) -> None:
    for entry in getattr(pe, "DIRECTORY_ENTRY_DEBUG", []):
        end = entry.struct.PointerToRawData + entry.struct.SizeOfData
        if entry.struct.PointerToRawData and end > size:
            raise InputError(path, f"truncated PE: debug data extends past end of file ({end} > {size} bytes)")


def _read(path: Path, pe: pefile.PE, data: bytes) -> Binary:
    machine_id = pe.FILE_HEADER.Machine
    machine = pefile.MACHINE_TYPE.get(machine_id, f"0x{machine_id:04x}").removeprefix("IMAGE_FILE_MACHINE_")
    exports = _exports(path, pe, data)
    imports = _import_table(path, getattr(pe, "DIRECTORY_ENTRY_IMPORT", []), data)
    delay_imports = _import_table(path, getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", []), data)
    build_id = _codeview_id(pe)
    tables, own = _own_symbols(path, pe, data, machine, build_id)
    imported = {s.name for table in (imports, delay_imports) for symbols in table.values() for s in symbols}
    return Binary(
        path=path,
        format="pe",
        arch=_ARCHES.get(machine, machine),
        machine=machine,
        kind="shared-library" if pe.FILE_HEADER.Characteristics & _IMAGE_FILE_DLL else "executable",
        exports=exports,
        imports=imports,
        needed=tuple(dict.fromkeys([*imports, *delay_imports])),
        soname=_export_dll_name(pe),
        build_id=build_id,
        # A name the file also imports is the linker's import thunk (`jmp *__imp_Name`), not a copy.
        defined=frozenset(s.name for s in exports) | {n for n in own - imported if not n.startswith("__imp_")},
        delay_imports=delay_imports,
        symbol_tables=("exports", *tables),
        sections=tuple(_printable(s.Name.rstrip(b"\0")) for s in pe.sections),
    )


def _own_symbols(path: Path, pe: pefile.PE, data: bytes, machine: str,
                 build_id: str | None) -> tuple[tuple[str, ...], frozenset[str]]:
    """The names the binary defines, and the table they came from: COFF symbols, the PDB, or none."""
    coff = _coff_defined(path, pe, data, machine)
    if coff is not None:
        return ("COFF symbol table",), coff
    pdb = _pdb_beside(path, pe)
    if pdb is not None:
        return ("PDB publics",), public_names(pdb, build_id)
    return (), frozenset()


def _pdb_beside(path: Path, pe: pefile.PE) -> Path | None:
    """The PDB the CodeView record names, looked for next to the binary (then NAME.pdb)."""
    names = [path.with_suffix(".pdb").name]
    for entry in getattr(pe, "DIRECTORY_ENTRY_DEBUG", []):
        recorded = getattr(entry.entry, "PdbFileName", None) if entry.entry is not None else None
        if recorded:
            names.insert(0, PureWindowsPath(_text(recorded.split(b"\0", 1)[0])).name)
    return next((path.parent / n for n in names if n and _is_file(path.parent / n)), None)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name the file system cannot hold (too long) is no PDB beside us
        return False


def _coff_defined(path: Path, pe: pefile.PE, data: bytes, machine: str) -> frozenset[str] | None:
    """External names defined in a section, from the COFF symbol table mingw leaves in images; None without one."""
    start, count = pe.FILE_HEADER.PointerToSymbolTable, pe.FILE_HEADER.NumberOfSymbols
    if not start or not count:
        return None
    strings = start + count * _COFF_SYMBOL_SIZE  # checked inside the file by _check_file_tables
    names: set[str] = set()
    index = 0
    while index < count:
        raw, _, section, _, storage, aux = struct.unpack_from("<8sIhHBB", data, start + index * _COFF_SYMBOL_SIZE)
        index += 1 + aux
        if storage != _IMAGE_SYM_CLASS_EXTERNAL or section <= 0:
            continue
        if raw[:4] == b"\0\0\0\0":  # a long name: offset into the string table
            (offset,) = struct.unpack_from("<I", raw, 4)
            name = _c_string(path, data, strings + offset, "COFF symbol name")
        else:
            name = raw.split(b"\0", 1)[0]
        text = _text(name)
        names.add(text.removeprefix("_") if machine == "I386" else text)  # x86 C names carry a leading "_"
    return frozenset(names)


def _c_string(path: Path, data: bytes, offset: int, what: str) -> bytes:
    end = data.find(b"\0", offset, offset + _LONGEST_NAME)
    if offset >= len(data) or end < 0:
        raise InputError(path, f"corrupt PE: {what} at offset {offset} is not a string inside the file "
                               f"(or is over {_LONGEST_NAME} bytes)")
    return data[offset:end]


def _full_name(path: Path, data: bytes, name: bytes, offset: int | None, cap: int) -> bytes:
    """pefile cuts names at `cap` bytes; read one that long again from the file."""
    if len(name) < cap or offset is None:
        return name
    return _c_string(path, data, offset, "symbol name")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _exports(path: Path, pe: pefile.PE, data: bytes) -> tuple[Symbol, ...]:
    directory = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    if directory is None:
        return ()
    symbols = tuple(
        Symbol(
            name=_text(_full_name(path, data, entry.name, entry.name_offset, pefile.MAX_SYMBOL_NAME_LENGTH))
            if entry.name else f"#{entry.ordinal}",
            # A forwarder's RVA points at its "DLL.Name" string, not at the symbol.
            kind="function" if entry.forwarder else _export_kind(pe, entry.address),
            ordinal=entry.ordinal,
            forwarder=_text(entry.forwarder) if entry.forwarder else None,
        )
        for entry in directory.symbols
    )
    named = sum(1 for entry in directory.symbols if entry.name)
    if named < directory.struct.NumberOfNames:
        raise InputError(path, f"corrupt PE: the export directory lists {directory.struct.NumberOfNames} names, "
                               f"only {named} could be read")
    return symbols


def _export_kind(pe: pefile.PE, rva: int) -> SymbolKind:
    section = pe.get_section_by_rva(rva)
    if section is not None and not section.Characteristics & _IMAGE_SCN_MEM_EXECUTE:
        return "data"
    return "function"


def _export_dll_name(pe: pefile.PE) -> str | None:
    directory = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    name = getattr(directory, "name", None)
    return _text(name) if name else None


def _import_table(path: Path, entries: list[Any], data: bytes) -> dict[str, tuple[Symbol, ...]]:
    """DLL name -> imported symbols, in file order (regular or delay-load descriptors)."""
    table: dict[str, tuple[Symbol, ...]] = {}
    for entry in entries:
        # pefile names an import by ordinal from its own table of well-known DLLs (ws2_32 15 ->
        # "ntohs"); the file gives only the ordinal, so the model keeps only that.
        symbols = tuple(
            Symbol(f"#{item.ordinal}", ordinal=item.ordinal) if item.import_by_ordinal or not item.name
            else Symbol(_text(_full_name(path, data, item.name, item.name_offset, pefile.MAX_IMPORT_NAME_LENGTH)))
            for item in entry.imports
        )
        dll = _text(entry.dll)
        table[dll] = table.get(dll, ()) + symbols
    return table


def _codeview_id(pe: pefile.PE) -> str | None:
    """The symbol-server key of the PDB: GUID (uppercase, no dashes) followed by the age."""
    for entry in getattr(pe, "DIRECTORY_ENTRY_DEBUG", []):
        if entry.struct.Type == _IMAGE_DEBUG_TYPE_CODEVIEW and entry.entry is not None:
            signature = getattr(entry.entry, "Signature_String", None)  # only RSDS (PDB 7.0) has one
            if signature:
                return str(signature)
    return None
