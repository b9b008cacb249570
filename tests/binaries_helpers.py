"""Helpers for the binary reader tests: run a compiler or binutils tool, find an ELF section header."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path


def run_tool(*cmd: str | Path, cwd: Path) -> str:
    """Run a build tool in `cwd` and return its stdout; a missing tool or a failure fails the test."""
    assert shutil.which(str(cmd[0])), f"{cmd[0]} not found (see .ci/run for the packages)"
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stderr}"
    return result.stdout


def section_header(data: bytes, name: str) -> int:
    """Offset of the 64-bit little-endian section header called `name`."""
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shnum, shstrndx = struct.unpack_from("<HH", data, 0x3C)
    (strtab_offset,) = struct.unpack_from("<Q", data, shoff + shstrndx * 64 + 24)
    for index in range(shnum):
        header = shoff + index * 64
        (name_offset,) = struct.unpack_from("<I", data, header)
        start = strtab_offset + name_offset
        if data[start : data.index(b"\0", start)] == name.encode():
            return header
    raise AssertionError(f"no section {name}")
