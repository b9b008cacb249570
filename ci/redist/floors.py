"""Platform floors: what the oldest target must provide for a binary to load, read from its imports.

ELF: the highest GLIBC_x.y symbol version among the versions it needs (from any library: libc,
libm and libdl all version their symbols GLIBC_*). PE: the DLLs it imports and the APIs it takes
from each. Each is checked against the platform record's declared floor.
"""

from __future__ import annotations

from collections.abc import Iterable

from ci.binaries import Binary
from ci.platforms import Platform

_GLIBC = "GLIBC_"
#: The UCRT's API sets (api-ms-win-crt-*.dll, what a UCRT MinGW's libucrt.a and MSVC's ucrt.lib
#: import) resolve to ucrtbase.dll on every Windows 10 and later: they count as ucrtbase.
_UCRT_API_SET = "api-ms-win-crt-"
_UCRTBASE = "ucrtbase.dll"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _glibc_versions(binary: Binary) -> set[str]:
    """x.y of every GLIBC_x.y the binary needs (GLIBC_PRIVATE is no release)."""
    found = set()
    for symbols in binary.imports.values():
        for symbol in symbols:
            number = (symbol.version or "").removeprefix(_GLIBC)
            if symbol.version and symbol.version.startswith(_GLIBC) and number.replace(".", "").isdigit():
                found.add(number)
    return found


def needs(binaries: Iterable[Binary]) -> dict:
    """{"glibc": highest x.y or None, "dlls": {dll (lower case): sorted API names}} over `binaries`."""
    glibc: set[str] = set()
    dlls: dict[str, set[str]] = {}
    for binary in binaries:
        if binary.format == "elf":
            glibc |= _glibc_versions(binary)
            continue
        for table in (binary.imports, binary.delay_imports):
            for dll, symbols in table.items():
                dlls.setdefault(dll.lower(), set()).update(s.name for s in symbols)
    return {"glibc": max(glibc, key=_version_key) if glibc else None,
            "dlls": {dll: sorted(names) for dll, names in sorted(dlls.items())}}


def declared(platform: Platform) -> dict:
    return {"glibc": platform.floor.glibc, "dlls": list(platform.floor.dlls)}


def problems(platform: Platform, needed: dict, own: Iterable[str] = ()) -> list[str]:
    """Where `needed` goes beyond the platform's floor; `own` names DLLs that ship with the app (the runtime)."""
    found = []
    floor = platform.floor
    if needed["glibc"] and (floor.glibc is None or _version_key(needed["glibc"]) > _version_key(floor.glibc)):
        found.append(f"needs glibc {needed['glibc']}, above {platform.rid}'s floor {floor.glibc or '(none)'}")
    allowed = {d.lower() for d in (*floor.dlls, *own)}
    for dll in sorted(d for d in set(needed["dlls"]) - allowed
                      if not (d.startswith(_UCRT_API_SET) and _UCRTBASE in allowed)):
        found.append(f"imports {dll}, not among {platform.rid}'s allowed DLLs ({', '.join(floor.dlls) or 'none'})")
    return found
