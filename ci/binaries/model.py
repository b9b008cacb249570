"""One model of a binary, shared by the ELF and PE readers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SymbolKind = Literal["function", "data"]
BinaryKind = Literal["executable", "shared-library", "other"]

#: The library key for imports whose providing library the file does not record
#: (ELF symbols without version information).
UNKNOWN_LIBRARY = ""


@dataclass(frozen=True, order=True)
class Symbol:
    name: str
    kind: SymbolKind = "function"
    version: str | None = None  # ELF symbol version (e.g. "V1.0", "GLIBC_2.34")
    ordinal: int | None = None  # PE ordinal; a PE import or export by ordinal only is named "#ORDINAL"
    forwarder: str | None = None  # PE forwarder ("OTHER.Name")


@dataclass(frozen=True)
class Binary:
    path: Path
    format: Literal["elf", "pe"]
    arch: str  # platform arch name: "x64", "arm64", "x86", "arm", or the raw machine name
    machine: str  # raw machine name from the header, e.g. "EM_X86_64", "AMD64"
    kind: BinaryKind
    exports: tuple[Symbol, ...]
    imports: dict[str, tuple[Symbol, ...]]  # library (UNKNOWN_LIBRARY if unrecorded) -> symbols
    needed: tuple[str, ...]
    soname: str | None = None
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    build_id: str | None = None  # ELF NT_GNU_BUILD_ID hex, or PE CodeView GUID+age
    defined: frozenset[str] = field(default_factory=frozenset)  # global defined symbols, any table
    delay_imports: dict[str, tuple[Symbol, ...]] = field(default_factory=dict)  # PE only
    # Where `defined` was read: ".symtab"/".dynsym" (ELF); "exports", "COFF symbol table", "PDB publics" (PE).
    symbol_tables: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()  # section names, in file order (they survive strip)

    @property
    def private_copies_checkable(self) -> bool:
        """Whether `defined` holds the file's own non-exported names too (a full symbol table)."""
        return bool({".symtab", "COFF symbol table", "PDB publics"} & set(self.symbol_tables))

    @property
    def export_names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.exports)

    def imports_from(self, library: str) -> tuple[Symbol, ...]:
        """Symbols recorded as imported from `library` (matched case-insensitively, as PE does)."""
        wanted = library.lower()
        found: list[Symbol] = []
        for table in (self.imports, self.delay_imports):
            for lib, symbols in table.items():
                if lib.lower() == wanted:
                    found.extend(symbols)
        return tuple(found)

    def runtime_symbols(self, owned: frozenset[str] | set[str]) -> frozenset[str]:
        """Runtime-owned names this binary defines itself: a private copy of the runtime."""
        return self.defined & frozenset(owned)
