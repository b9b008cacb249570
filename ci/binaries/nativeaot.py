"""Recognise NativeAOT code and a NativeAOT runtime inside an ELF or PE file, without its symbols.

Stripped files keep no runtime symbol names, but ILC and the runtime leave structures and strings
that a plain C library has none of. Each marker, the .NET source that emits it (dotnet/runtime),
and why it is reliable:

| marker | emitted by | why it is reliable |
| --- | --- | --- |
| ReadyToRun header `RTR\\0` + major/minor version | ILC's module header, `ReadyToRunHeaderConstants` in src/coreclr/tools/Common/Internal/Runtime/ModuleHeaders.cs (b0a5c24c066bb77d3860c863116fba10936ca7c9), kept equal to src/coreclr/inc/readytorun.h (0147a78fade2688d5801f9b4571783d64d788610) and src/coreclr/nativeaot/Runtime/inc/ModuleHeaders.h (0204545b4f69b0d43c916beb46db0dd23df51960) | the runtime refuses a module whose major version differs from its own, so the header is always there and its major names the compiler's release; the signature is checked with the fields after it (section count, entry size) |
| ELF sections `__managedcode`, `__unbox`, `__modules`, `.dotnet_eh_table`, `.hydrated` (`hydrated` in .NET 8) | `ObjectNodeSection` in src/coreclr/tools/Common/Compiler/DependencyAnalysis/ObjectNodeSection.cs (05a35a914ecd6ab7e1e8561d372c61fa2ff041c1), `LsdaSection` in src/coreclr/tools/aot/ILCompiler.Compiler/Compiler/ObjectWriter/UnixObjectWriter.cs (5bd99427ed362f3eea8d950aaf24f0f1e671f4e6) | section headers survive `strip`; the runtime finds its code and modules through these names (`__managedcode_a/z`, `__modules_a/z`); PE files merge them into `.text`/`.data` |
| GC configuration names (`GCHeapHardLimit`, `GCgen0size`, `GCHeapAffinitizeMask`, `GCHeapCount`, `gcServer`, `gcConcurrent`, ...) | `GC_CONFIGURATION_KEYS` in src/coreclr/gc/gcconfig.h (8de7a3c494f576c0319e18cbfbed253f7919dd65) | string literals of the GC itself, read at start-up: only a binary that carries a .NET GC has them; ILC's app code does not |
| UTF-16 `DOTNET_` | the configuration prefix `DOTNET_PREFIX W("DOTNET_")`, src/coreclr/inc/clrconfignocache.h, used by the NativeAOT runtime's and the GC's configuration readers | a wide-string literal of the runtime's environment lookup; C libraries spell environment names in 8-bit strings |
| exports `DotNetRuntimeDebugHeader` (.NET 8-10) / `DotNetRuntimeContractDescriptor` (.NET 10+) | src/coreclr/nativeaot/Runtime/DebugHeader.cpp (80030e4e04fdda211870d8c059b6dfb1853130aa) and the runtime's cDAC contract descriptor | exported for debuggers by the runtime itself, so a NativeAOT shared library or PIE keeps them after stripping |

A file holds NativeAOT code when it has a valid ReadyToRun header; it holds a private runtime when
it also carries the runtime's own markers: the GC's configuration names and either UTF-16
`DOTNET_` or a runtime debug export. An app compiled for Runtime.Base has managed code (its own
ReadyToRun header and sections) but its GC and configuration reader live in Runtime.Base, so only
the two groups together mean an embedded runtime.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass

from ci.binaries.model import Binary

_SIGNATURE = b"RTR\0"
# uint32 Signature; uint16 MajorVersion, MinorVersion; uint32 Flags; uint16 NumberOfSections;
# uint8 EntrySize; uint8 EntryType (ModuleHeaders.h). Entries are {id, flags, start, end}: 16 or 24 bytes.
_HEADER = struct.Struct("<4sHHIHBB")
_ENTRY_SIZES = (16, 24)
_MOST_SECTIONS = 256

#: ReadyToRun major version -> .NET release, as readytorun.h's history and the real ILCompiler
#: packages (8.0.x, 9.0.x, 10.0.x, measured in tests/e2e/test_verify_nativeaot.py) give them.
RELEASES = {9: ".NET 8", 10: ".NET 9", 16: ".NET 10"}

SECTIONS = ("__managedcode", "__unbox", "__modules", ".dotnet_eh_table", ".hydrated", "hydrated")
GC_CONFIG_NAMES = (b"GCHeapHardLimit", b"GCgen0size", b"GCHeapAffinitizeMask", b"GCHeapCount",
                   b"GCNoAffinitize", b"GCHeapHardLimitPercent", b"gcServer", b"gcConcurrent")
_GC_NAMES_NEEDED = 3  # one name could be any program's string; several together are the GC's table
DOTNET_WIDE = "DOTNET_".encode("utf-16-le")
RUNTIME_EXPORTS = ("DotNetRuntimeDebugHeader", "DotNetRuntimeContractDescriptor")


@dataclass(frozen=True)
class NativeAot:
    """What the markers say about one file."""

    readytorun: tuple[int, int] | None  # (major, minor) of the first valid header
    markers: tuple[str, ...]  # the markers found, for the report

    @property
    def has_managed_code(self) -> bool:
        return self.readytorun is not None

    @property
    def embeds_runtime(self) -> bool:
        names = set(self.markers)
        return (self.has_managed_code and "GC configuration names" in names
                and bool({"UTF-16 DOTNET_", *(f"export {name}" for name in RUNTIME_EXPORTS)} & names))

    @property
    def release(self) -> str | None:
        return RELEASES.get(self.readytorun[0]) if self.readytorun else None

    def describe(self) -> str:
        """'.NET 10, ReadyToRun 16.x', or the version alone when no release is known for it."""
        if self.readytorun is None:
            return "no ReadyToRun header"
        version = f"ReadyToRun {self.readytorun[0]}.x"
        return f"{self.release}, {version}" if self.release else f"unknown .NET release, {version}"


def markers(binary: Binary) -> NativeAot:
    """Scan `binary`'s file for the markers above."""
    found: list[str] = [f"section {name}" for name in SECTIONS if name in binary.sections]
    found += [f"export {name}" for name in RUNTIME_EXPORTS if name in binary.export_names]
    with binary.path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        readytorun = _readytorun(data)
        gc_names = sum(1 for name in GC_CONFIG_NAMES if data.find(name) >= 0)
        wide = data.find(DOTNET_WIDE) >= 0
    if readytorun:
        found.insert(0, f"ReadyToRun header {readytorun[0]}.{readytorun[1]}")
    if gc_names >= _GC_NAMES_NEEDED:
        found.append("GC configuration names")
    if wide:
        found.append("UTF-16 DOTNET_")
    return NativeAot(readytorun, tuple(found))


def _readytorun(data: mmap.mmap) -> tuple[int, int] | None:
    at = data.find(_SIGNATURE)
    while at >= 0:
        if at + _HEADER.size <= len(data):
            _, major, minor, _, sections, entry_size, _ = _HEADER.unpack_from(data, at)
            if 0 < sections < _MOST_SECTIONS and entry_size in _ENTRY_SIZES and 0 < major < 256:
                return major, minor
        at = data.find(_SIGNATURE, at + 1)
    return None

