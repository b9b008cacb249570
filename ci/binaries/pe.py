"""Read a PE file (EXE or DLL) into the shared `Binary` model with pefile."""

from __future__ import annotations

import struct
from pathlib import Path

import pefile

from ci.binaries.model import Binary, Symbol, SymbolKind
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
    try:
        pe = pefile.PE(data=data, fast_load=True)
        _check_sections(path, pe, len(data))
        pe.parse_data_directories(directories=_DIRECTORIES)
        return _read(path, pe)
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


def _read(path: Path, pe: pefile.PE) -> Binary:
    machine_id = pe.FILE_HEADER.Machine
    machine = pefile.MACHINE_TYPE.get(machine_id, f"0x{machine_id:04x}").removeprefix("IMAGE_FILE_MACHINE_")
    exports = _exports(pe)
    imports = _import_table(getattr(pe, "DIRECTORY_ENTRY_IMPORT", []))
    delay_imports = _import_table(getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", []))
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
        build_id=_codeview_id(pe),
        defined=frozenset(s.name for s in exports),
        delay_imports=delay_imports,
    )


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _exports(pe: pefile.PE) -> tuple[Symbol, ...]:
    directory = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    if directory is None:
        return ()
    return tuple(
        Symbol(
            name=_text(entry.name) if entry.name else f"#{entry.ordinal}",
            # A forwarder's RVA points at its "DLL.Name" string, not at the symbol.
            kind="function" if entry.forwarder else _export_kind(pe, entry.address),
            ordinal=entry.ordinal,
            forwarder=_text(entry.forwarder) if entry.forwarder else None,
        )
        for entry in directory.symbols
    )


def _export_kind(pe: pefile.PE, rva: int) -> SymbolKind:
    section = pe.get_section_by_rva(rva)
    if section is not None and not section.Characteristics & _IMAGE_SCN_MEM_EXECUTE:
        return "data"
    return "function"


def _export_dll_name(pe: pefile.PE) -> str | None:
    directory = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    name = getattr(directory, "name", None)
    return _text(name) if name else None


def _import_table(entries: list) -> dict[str, tuple[Symbol, ...]]:
    """DLL name -> imported symbols, in file order (regular or delay-load descriptors)."""
    table: dict[str, tuple[Symbol, ...]] = {}
    for entry in entries:
        symbols = tuple(
            Symbol(_text(item.name)) if item.name else Symbol(f"#{item.ordinal}", ordinal=item.ordinal)
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
                return signature
    return None
