"""Hostile packages made from real ones, shared by the tests of every command that reads a package."""

from __future__ import annotations

import struct
import tarfile
import zipfile
from pathlib import Path

_ENCRYPTED = 0x1  # general purpose bit 0 (APPNOTE 4.4.4)


def encrypted_zip(source: Path, dest: Path) -> None:
    """The members of the package `source` in a zip whose entries carry the encryption flag, set in
    both the local headers and the central directory (zipfile clears it when writing)."""
    with tarfile.open(source) as src, zipfile.ZipFile(dest, "w") as out:
        for member in src.getmembers():
            if member.isfile():
                out.writestr(member.name, src.extractfile(member).read())
    data = bytearray(dest.read_bytes())
    with zipfile.ZipFile(dest) as written:
        offsets = [info.header_offset for info in written.infolist()]
        central = written.start_dir
    for offset in offsets:  # local file header: signature, version, flags
        _set_flag(data, offset, b"PK\x03\x04", 6)
    for _ in offsets:  # central directory entries, one after another
        _set_flag(data, central, b"PK\x01\x02", 8)
        name, extra, comment = struct.unpack_from("<HHH", data, central + 28)
        central += 46 + name + extra + comment
    dest.write_bytes(data)
    with zipfile.ZipFile(dest) as check:
        assert all(i.flag_bits & _ENCRYPTED for i in check.infolist())


def _set_flag(data: bytearray, at: int, signature: bytes, flags_at: int) -> None:
    assert data[at:at + 4] == signature
    (flags,) = struct.unpack_from("<H", data, at + flags_at)
    struct.pack_into("<H", data, at + flags_at, flags | _ENCRYPTED)
