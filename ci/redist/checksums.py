"""dist/SHA256SUMS in the coreutils format (`sha256sum -c` reads it)."""

from __future__ import annotations

import re
from pathlib import Path

from ci.core.errors import InputError
from ci.core.fs import atomic_write_text, read_text, sha256_file

SUMS = "SHA256SUMS"
_LINE = re.compile(r"^([0-9a-f]{64}) [ *]([^/\\]+)$")


def write_sums(dist: Path, names: list[str]) -> Path:
    return write_sums_from(dist, {name: sha256_file(dist / name) for name in names})


def write_sums_from(dist: Path, sums: dict[str, str]) -> Path:
    """SHA256SUMS from digests already known (computed while the files were written)."""
    path = dist / SUMS
    atomic_write_text(path, "".join(f"{sums[name]}  {name}\n" for name in sorted(sums)))
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
