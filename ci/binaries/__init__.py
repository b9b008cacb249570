"""Binary readers: one `Binary` model for ELF and PE files."""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path

from ci.binaries.elf import ELF_MAGIC, read_elf
from ci.binaries.model import Binary, Symbol
from ci.binaries.pe import PE_MAGIC, read_pe
from ci.core.errors import InputError

__all__ = ["Binary", "Symbol", "UnsupportedFormat", "read_binary"]

# Formats that are binaries, but not ones the readers model: named in the one-line refusal.
_OTHER_FORMATS = (
    (b"\xfe\xed\xfa\xce", "Mach-O (32-bit)"), (b"\xce\xfa\xed\xfe", "Mach-O (32-bit)"),
    (b"\xfe\xed\xfa\xcf", "Mach-O (64-bit)"), (b"\xcf\xfa\xed\xfe", "Mach-O (64-bit)"),
    (b"\xca\xfe\xba\xbe", "Mach-O universal (or Java class)"),
    (b"!<arch>\n", "ar archive"), (b"!<thin>\n", "thin ar archive"),
    (b"\0asm", "WebAssembly"),
)


class UnsupportedFormat(InputError):
    """A readable file in a format other than ELF or PE."""

    def __init__(self, path: Path, format_name: str):
        super().__init__(path, f"not an ELF or PE binary: {format_name}")
        self.format = format_name


def read_binary(path: str | Path) -> Binary:
    """Read an ELF or PE file; the same unchanged file is parsed once."""
    path = Path(path)
    info = _regular_file(path)
    # Inode and mtime in the key: a rebuilt or replaced file is read again; so is a PE whose
    # NAME.pdb beside it changed (the PDB the reader takes its defined names from).
    return _read_cached(path, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, _pdb_identity(path))


def _pdb_identity(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.with_suffix(".pdb").stat()
    except (OSError, ValueError):
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def _regular_file(path: Path) -> os.stat_result:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(path, "is a directory, not a binary")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(path, "not a regular file")
    if info.st_size == 0:
        raise InputError(path, "file is empty")
    return info


@functools.lru_cache(maxsize=256)
def _read_cached(path: Path, dev: int, ino: int, size: int, mtime_ns: int, pdb: tuple[int, int, int] | None) -> Binary:
    magic = _magic(path)
    if magic.startswith(ELF_MAGIC):
        return read_elf(path)
    if magic.startswith(PE_MAGIC):
        return read_pe(path)
    known = next((name for start, name in _OTHER_FORMATS if magic.startswith(start)), None)
    raise UnsupportedFormat(path, known or f"unknown format (starts with {magic[:4]!r})")


def _magic(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            return stream.read(8)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
