"""Find a DT_NEEDED library the way the dynamic loader would, without running anything.

Covers the binary's own DT_RPATH / DT_RUNPATH and the caller's default directories;
not LD_LIBRARY_PATH, ld.so.cache, or RPATH inherited from the objects that load it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from ci.binaries.model import Binary

_ELF_MAGIC = b"\x7fELF"


def find_needed(binary: Binary, name: str, default_dirs: Sequence[Path]) -> Path | None:
    """The first compatible file for DT_NEEDED `name` of `binary`, or None."""
    wanted = _identity(binary.path)
    if wanted is None:
        return None
    if "/" in name:  # the loader takes a name with a slash as a path
        candidates = [Path(name)]
    else:
        candidates = [directory / name for directory in _search_dirs(binary, default_dirs)]
    return next((c for c in candidates if _identity(c) == wanted), None)


def _search_dirs(binary: Binary, default_dirs: Sequence[Path]) -> list[Path]:
    # DT_RPATH is ignored when DT_RUNPATH is present.
    own = binary.runpath or binary.rpath
    origin = str(binary.path.absolute().parent)
    # An empty entry would mean the loader's working directory, which no static check knows.
    expanded = [Path(entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)) for entry in own if entry]
    return [*expanded, *default_dirs]


def _identity(path: Path) -> tuple[int, int, int] | None:
    """(class, byte order, e_machine) of an ELF file; None if unreadable or not ELF.

    auditwheel's rule: a library of another class, byte order or machine is skipped
    by the loader, which goes on searching.
    """
    try:
        with path.open("rb") as stream:
            head = stream.read(20)
    except OSError:  # missing, a directory, no permission: the loader skips it too
        return None
    if len(head) < 20 or not head.startswith(_ELF_MAGIC):
        return None
    (machine,) = struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)
    return head[4], head[5], machine
