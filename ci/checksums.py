"""dist/SHA256SUMS in the coreutils format (`sha256sum -c` reads it)."""

from __future__ import annotations

import re
from pathlib import Path

from .archive import sha256_file
from .errors import InputError

SUMS = "SHA256SUMS"
_LINE = re.compile(r"^([0-9a-f]{64}) [ *]([^/\\]+)$")


def write_sums(dist: Path, names: list[str]) -> Path:
    lines = [f"{sha256_file(dist / name)}  {name}\n" for name in sorted(names)]
    path = dist / SUMS
    tmp = path.with_name(SUMS + ".tmp")
    tmp.write_text("".join(lines))
    tmp.replace(path)
    return path


def read_sums(path: Path) -> dict[str, str]:
    """File name -> sha256; a malformed line is an error naming the file and line."""
    sums: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "missing") from None
    for number, line in enumerate(text.splitlines(), 1):
        match = _LINE.match(line)
        if not match:
            raise InputError(path, f"line {number}: expected '<sha256>  <file name>'")
        sums[match[2]] = match[1]
    return sums
