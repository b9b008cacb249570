"""dist/SHA256SUMS in the coreutils format (`sha256sum -c` reads it)."""

from __future__ import annotations

import re
from pathlib import Path

from ci.redist.archive import sha256_file
from ci.core.errors import InputError
from ci.core.fs import atomic_write_text, read_text

SUMS = "SHA256SUMS"
_LINE = re.compile(r"^([0-9a-f]{64}) [ *]([^/\\]+)$")


def write_sums(dist: Path, names: list[str]) -> Path:
    lines = [f"{sha256_file(dist / name)}  {name}\n" for name in sorted(names)]
    path = dist / SUMS
    atomic_write_text(path, "".join(lines))
    return path


def read_sums(path: Path) -> dict[str, str]:
    """File name -> sha256; a malformed line is an error naming the file and line."""
    sums: dict[str, str] = {}
    for number, line in enumerate(read_text(path).splitlines(), 1):
        match = _LINE.match(line)
        if not match:
            raise InputError(path, f"line {number}: expected '<sha256>  <file name>'")
        sums[match[2]] = match[1]
    return sums
