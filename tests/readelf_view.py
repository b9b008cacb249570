"""What binutils' readelf says about an ELF file, in the same shape as our model.

`readelf_view(path) == model_view(read_binary(path))` is the check that the ELF reader
agrees with readelf. The shape:

    exports:  sorted (name, kind, version) of defined global/weak/unique symbols
    imports:  {library: sorted (name, kind, version)}; library "" when unversioned
    needed, rpath, runpath: lists in file order; soname, build_id: str or None

Conventions shared with the reader: weak undefined symbols are not imports; a defined
symbol whose version is a *needed* one (readelf's "(n)" suffix) or that an R_*_COPY relocation
fills is a copy-relocated import; a defined symbol is an export when glibc's loader would bind
it: a global, weak or unique FUNC, IFUNC, OBJECT, TLS, COMMON or NOTYPE with a value other than
0 (TLS may be 0), so ld's version markers (`V1.0`, value 0) are not exports; an untyped symbol is
a function when an executable LOAD segment holds it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ci.binaries.model import UNKNOWN_LIBRARY, Binary

# In files whose OS/ABI is not GNU, readelf prints IFUNC and UNIQUE (value 10) as
# "<OS specific>: 10"; the loader treats them the same either way.
_OS_SPECIFIC_10 = "<OS specific>: 10"
_KINDS = {"FUNC": "function", "IFUNC": "function", _OS_SPECIFIC_10: "function", "OBJECT": "data", "TLS": "data",
          "COMMON": "data"}
_VISIBLE_BINDS = {"GLOBAL", "WEAK", "UNIQUE", _OS_SPECIFIC_10}

# "  7: 0000000000004028     4 OBJECT  GLOBAL DEFAULT   26 d@V1.0 (4)"
# Vis may carry extras such as "[VARIANT_PCS]"; the name may be empty.
_FIELD = r"(?:<[^>]*>: \d+|\S+)"
_SYMBOL = re.compile(
    rf"^\s*(?P<number>\d+):\s+(?P<value>[0-9a-fA-F]+)\s+\S+\s+(?P<type>{_FIELD})\s+(?P<bind>{_FIELD})"
    r"\s+\S+(?:\s+\[[^\]]*\])*"
    r"\s+(?P<ndx>\S+)(?:\s(?P<name>.*))?$"
)
# "name@VER", "name@@VER", "name@VER (3)"; a name never contains "@".
_VERSIONED = re.compile(r"^(?P<name>[^@]*)(?:@@?(?P<version>[^\s@]+))?(?:\s+\((?P<index>\d+)\))?$")
_DYNAMIC = re.compile(r"^\s*0x[0-9a-f]+\s+\((?P<tag>\w+)\)\s+.*?\[(?P<value>.*)\]\s*$")
_VERNEED_FILE = re.compile(r"^\s*0x?[0-9a-f]+:\s+Version:\s+\d+\s+File:\s+(?P<file>\S+)")
_VERNEED_NAME = re.compile(r"^\s*0x[0-9a-f]+:\s+Name:\s+(?P<name>\S+)\s+Flags:.*\sVersion:\s+(?P<index>\d+)")
_BUILD_ID = re.compile(r"Build ID:\s+(?P<id>[0-9a-f]+)")
# "0000000000004030  0000000b00000005 R_X86_64_COPY   0000000000004030 d@V1.0 + 0"
_COPY = re.compile(r"^[0-9a-f]+\s+(?P<info>[0-9a-f]+)\s+R_\w+_COPY\s")
# "  LOAD  0x001000 0x0000000000001000 0x0000000000001000 0x0001d1 0x0001d1 R E 0x1000"
_LOAD = re.compile(r"^\s*LOAD\s+0x[0-9a-f]+\s+0x(?P<vaddr>[0-9a-f]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+"
                   r"0x(?P<memsz>[0-9a-f]+)\s+(?P<flags>[RWE ]+?)\s+0x")


def readelf_view(path: str | Path) -> dict[str, Any]:
    """Run readelf on `path` and parse its dynamic symbols, dynamic section and notes."""
    # -V gives the version tables that say which library a "(n)" version index belongs to.
    result = subprocess.run(
        ["readelf", "--dyn-syms", "-d", "-n", "-V", "-r", "-l", "-W", str(path)],
        capture_output=True,
        text=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )
    if result.returncode != 0:
        raise AssertionError(f"readelf failed on {path}: {result.stderr.strip()}")
    lines = result.stdout.splitlines()
    libraries = _versions(lines)
    view = _dynamic(lines)
    view["exports"], view["imports"] = _symbols(lines, libraries, _copied(lines), _executable_ranges(lines))
    view["build_id"] = next((m["id"] for m in map(_BUILD_ID.search, lines) if m), None)
    return view


def model_view(binary: Binary) -> dict[str, Any]:
    """The model in readelf_view's shape."""
    imports: dict[str, list[tuple[str, str, str | None]]] = {}
    for library, symbols in binary.imports.items():
        imports.setdefault(library, []).extend((s.name, s.kind, s.version) for s in symbols)
    return {
        "exports": sorted((s.name, s.kind, s.version) for s in binary.exports),
        "imports": {library: sorted(symbols) for library, symbols in imports.items()},
        "needed": list(binary.needed),
        "soname": binary.soname,
        "rpath": list(binary.rpath),
        "runpath": list(binary.runpath),
        "build_id": binary.build_id,
    }


def _section(lines: list[str], heading: str) -> Iterator[str]:
    """Lines of the readelf section whose heading starts with `heading`, up to the next blank."""
    inside = False
    for line in lines:
        if line.startswith(heading):
            inside = True
        elif inside and not line.strip():
            inside = False
        elif inside:
            yield line


def _versions(lines: list[str]) -> dict[int, str]:
    """Needed version index -> library file."""
    libraries: dict[int, str] = {}
    current_file = ""
    for line in _section(lines, "Version needs section"):
        if match := _VERNEED_FILE.match(line):
            current_file = match["file"]
        elif match := _VERNEED_NAME.match(line):
            libraries[int(match["index"])] = current_file
    return libraries


def _copied(lines: list[str]) -> set[int]:
    """Dynamic symbol numbers that a copy relocation fills: r_info >> 32 (ELF64, 16 digits) or >> 8."""
    return {int(match["info"], 16) >> (32 if len(match["info"]) == 16 else 8)
            for match in map(_COPY.match, lines) if match}


def _executable_ranges(lines: list[str]) -> list[range]:
    return [range(int(m["vaddr"], 16), int(m["vaddr"], 16) + int(m["memsz"], 16))
            for m in map(_LOAD.match, lines) if m and "E" in m["flags"]]


def _dynamic(lines: list[str]) -> dict[str, Any]:
    tags: dict[str, list[str]] = {"NEEDED": [], "SONAME": [], "RPATH": [], "RUNPATH": []}
    for line in _section(lines, "Dynamic section at offset"):
        match = _DYNAMIC.match(line)
        if match and match["tag"] in tags:
            tags[match["tag"]].append(match["value"])
    return {
        "needed": tags["NEEDED"],
        "soname": tags["SONAME"][0] if tags["SONAME"] else None,
        "rpath": [entry for value in tags["RPATH"] for entry in value.split(":")],
        "runpath": [entry for value in tags["RUNPATH"] for entry in value.split(":")],
    }


def _symbols(
    lines: list[str], libraries: dict[int, str], copied: set[int], executable: list[range]
) -> tuple[list[tuple[str, str, str | None]], dict[str, list[tuple[str, str, str | None]]]]:
    exports: list[tuple[str, str, str | None]] = []
    imports: dict[str, list[tuple[str, str, str | None]]] = {}
    for line in _section(lines, "Symbol table '.dynsym'"):
        symbol = _SYMBOL.match(line)
        if not symbol or symbol["bind"] not in _VISIBLE_BINDS or not symbol["name"]:
            continue
        versioned = _VERSIONED.match(symbol["name"].strip())
        if versioned is None:
            raise AssertionError(f"unexpected readelf symbol name: {symbol['name']!r}")
        name, version, index = versioned["name"], versioned["version"], versioned["index"]
        kind, value = _KINDS.get(symbol["type"]), int(symbol["value"], 16)
        undefined = symbol["ndx"] == "UND"
        if undefined or index is not None or int(symbol["number"]) in copied:  # "(n)": a needed version
            if not undefined or symbol["bind"] == "GLOBAL":
                library = libraries.get(int(index), UNKNOWN_LIBRARY) if index else UNKNOWN_LIBRARY
                imports.setdefault(library, []).append((name, kind if kind == "data" else "function", version))
        elif symbol["type"] == "NOTYPE" and value:
            exports.append((name, "function" if any(value in r for r in executable) else "data", version))
        elif kind and (value or symbol["type"] == "TLS"):
            exports.append((name, kind, version))
    return sorted(exports), {library: sorted(symbols) for library, symbols in imports.items()}
