"""What binutils' objdump and LLVM's readobj say about a PE file, to compare with our model."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ci.binaries import Binary

OBJDUMP = "x86_64-w64-mingw32-objdump"


def _run(*cmd: str | Path) -> str:
    assert shutil.which(str(cmd[0])), f"{cmd[0]} not found (see .ci/run for the packages)"
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stderr}"
    return result.stdout


@dataclass
class ObjdumpView:
    dll: bool = False
    format: str = ""
    export_name: str | None = None
    exports: set[tuple[str, int, str | None]] = field(default_factory=set)  # name, ordinal, forwarder
    imports: dict[str, list[tuple[str, int | None]]] = field(default_factory=dict)  # name, ordinal
    codeview: tuple[str, int] | None = None  # signature, age


_FORMAT = re.compile(r"file format (\S+)")
_EXPORT_NAME = re.compile(r"^Name\s+[0-9a-f]+\s+(\S+)")
_EAT_ENTRY = re.compile(r"^\s*\[\s*(\d+)\] \+base\[\s*(\d+)\]\s+[0-9a-f]+ (?:Forwarder RVA -- (\S+)|Export RVA)")
_NAME_ENTRY = re.compile(r"^\s*\[\s*(\d+)\] (\S+)$")
_DLL_NAME = re.compile(r"^\s*DLL Name: (\S+)")
_IMPORT_ENTRY = re.compile(r"^\t[0-9a-f]+\t\s*([0-9a-f]+)\s+(\S+)")
_RSDS = re.compile(r"\(format RSDS signature ([0-9a-f]+) age (\d+)")


def objdump_view(path: Path) -> ObjdumpView:
    view = ObjdumpView()
    eat: dict[int, tuple[int, str | None]] = {}  # index -> ordinal, forwarder
    names: dict[int, str] = {}
    part, dll = "", ""
    for line in _run(OBJDUMP, "-p", path).splitlines():
        if match := _FORMAT.search(line):
            view.format = match[1]
        elif line.startswith("Characteristics"):
            part = "characteristics"
        elif line.startswith("Export Address Table --"):
            part = "eat"
        elif line.startswith("[Ordinal/Name Pointer] Table"):
            part = "names"
        elif match := _DLL_NAME.match(line):
            part, dll = "imports", match[1]
            view.imports[dll] = []
        elif match := _EXPORT_NAME.match(line):
            view.export_name = match[1]
        elif match := _RSDS.search(line):
            view.codeview = (match[1], int(match[2]))
        elif not line.strip():
            part = ""
        elif part == "characteristics" and line.strip() == "DLL":
            view.dll = True
        elif part == "eat" and (match := _EAT_ENTRY.match(line)):
            eat[int(match[1])] = (int(match[2]), match[3])
        elif part == "names" and (match := _NAME_ENTRY.match(line)):
            names[int(match[1])] = match[2]
        elif part == "imports" and (match := _IMPORT_ENTRY.match(line)):
            by_ordinal = match[2] == "<none>"
            view.imports[dll].append((f"#{int(match[1], 16)}", int(match[1], 16)) if by_ordinal else (match[2], None))
    view.exports = {(names.get(i, f"#{ordinal}"), ordinal, fwd) for i, (ordinal, fwd) in eat.items()}
    return view



_READOBJ_FORMAT = re.compile(r"^Format: COFF-(\S+)")
_READOBJ_FIELD = re.compile(r"^\s+(Name|Ordinal|RVA|Symbol): ?(.*)$")
_READOBJ_MACHINES = {"x86-64": "x64", "ARM64": "arm64", "i386": "x86"}


def readobj_view(path: Path) -> dict:
    """Exports (name, ordinal) and imports per DLL as llvm-readobj prints them, and the arch."""
    arch, exports, imports = None, set(), {}
    block, fields, symbols = None, {}, []
    for line in _run("llvm-readobj", "--coff-exports", "--coff-imports", path).splitlines():
        if match := _READOBJ_FORMAT.match(line):
            arch = _READOBJ_MACHINES.get(match[1], match[1])
        elif line in ("Export {", "Import {", "DelayImport {"):
            block, fields, symbols = line[:-2], {}, []
        elif line == "}" and block:
            if block == "Export" and fields.get("RVA") not in ("0x0", None):  # RVA 0: an unused slot
                exports.add((fields["Name"] or f"#{fields['Ordinal']}", int(fields["Ordinal"])))
            elif block in ("Import", "DelayImport"):
                imports[(block, fields["Name"])] = sorted(symbols)
            block = None
        elif block and (match := _READOBJ_FIELD.match(line)):
            if match[1] == "Symbol":
                name, ordinal = re.fullmatch(r"(.*) \((\d+)\)", match[2]).groups()
                symbols.append(name or f"#{ordinal}")
            else:
                fields[match[1]] = match[2]
    return {"arch": arch, "exports": exports, "imports": imports}


def model_readobj_view(binary: Binary) -> dict:
    """The same shape from our model."""
    imports = {("Import", lib): sorted(s.name for s in syms) for lib, syms in binary.imports.items()}
    imports |= {("DelayImport", lib): sorted(s.name for s in syms) for lib, syms in binary.delay_imports.items()}
    return {"arch": binary.arch, "exports": {(s.name, s.ordinal) for s in binary.exports}, "imports": imports}
