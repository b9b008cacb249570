"""Public symbol names from a PDB (MSF 7.0), for the private-copy check on lld-link/MSVC binaries.

Hand-written: on PyPI, pdbparse has had no release since 2020 and symbolic's Python binding lists
no symbols. Only what the check needs is read: the MSF stream directory, the PDB info stream
(its GUID must match the binary's CodeView record) and the S_PUB32 records of the DBI stream's
symbol record stream. Every block and record is checked to lie inside the file; streams are read
block by block, so memory follows the symbol stream, not the PDB.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from ci.core.errors import InputError

_MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0"
_INFO_STREAM, _DBI_STREAM = 1, 3
_S_PUB32 = 0x110E
_NIL = 0xFFFFFFFF


class _Msf:
    def __init__(self, path: Path, fd: int, size: int):
        self.path, self.fd, self.size = path, fd, size
        head = os.pread(fd, 56, 0)
        if len(head) < 56 or not head.startswith(_MAGIC):
            raise self.fail("not an MSF 7.0 PDB")
        self.block, _, self.blocks, directory_bytes, _, map_at = struct.unpack_from("<6I", head, 32)
        if self.block not in (512, 1024, 2048, 4096):
            raise self.fail(f"block size {self.block} is not a PDB block size")
        if self.blocks * self.block > size:
            raise self.fail(f"{self.blocks} blocks of {self.block} bytes extend past end of file ({size} bytes)")
        count = -(-directory_bytes // self.block)
        directory_blocks = struct.unpack(f"<{count}I", self.read_blocks([map_at], count * 4)[: count * 4])
        directory = self.read_blocks(list(directory_blocks), directory_bytes)
        (streams,) = struct.unpack_from("<I", directory)
        if 4 + streams * 4 > len(directory):
            raise self.fail(f"stream directory lists {streams} streams in {len(directory)} bytes")
        self.sizes = [0 if s == _NIL else s for s in struct.unpack_from(f"<{streams}I", directory, 4)]
        self.stream_blocks: list[tuple[int, ...]] = []
        at = 4 + streams * 4
        for stream_size in self.sizes:
            used = -(-stream_size // self.block)
            if at + used * 4 > len(directory):
                raise self.fail("stream directory is cut off")
            self.stream_blocks.append(struct.unpack_from(f"<{used}I", directory, at))
            at += used * 4

    def fail(self, problem: str) -> InputError:
        return InputError(self.path, f"corrupt PDB: {problem}")

    def read_blocks(self, blocks: list[int], length: int) -> bytes:
        if length > len(blocks) * self.block:
            raise self.fail(f"{length} bytes claimed in {len(blocks)} blocks")
        parts = []
        for number in blocks:
            if number >= self.blocks:
                raise self.fail(f"block {number} is past the file's {self.blocks} blocks")
            parts.append(os.pread(self.fd, self.block, number * self.block))
        return b"".join(parts)[:length]

    def stream(self, index: int) -> bytes:
        if index >= len(self.sizes):
            raise self.fail(f"stream {index} does not exist ({len(self.sizes)} streams)")
        return self.read_blocks(list(self.stream_blocks[index]), self.sizes[index])


def pdb_guid(guid: bytes) -> str:
    """A GUID as CodeView records print it: uppercase hex, the first three fields as integers."""
    first, second, third = struct.unpack_from("<IHH", guid)
    return f"{first:08X}{second:04X}{third:04X}{guid[8:].hex().upper()}"


def public_names(path: Path, build_id: str | None) -> frozenset[str]:
    """Names of the PDB's S_PUB32 records; InputError if it is damaged or not the binary's PDB."""
    try:
        with path.open("rb") as stream:
            msf = _Msf(path, stream.fileno(), os.fstat(stream.fileno()).st_size)
            info = msf.stream(_INFO_STREAM)
            if len(info) < 28:
                raise msf.fail("PDB info stream is cut off")
            guid = pdb_guid(info[12:28])
            if build_id is None or not build_id.startswith(guid):
                raise InputError(path, f"PDB {guid} is not the binary's (CodeView {build_id or 'none'}): a stale PDB")
            dbi = msf.stream(_DBI_STREAM)
            if len(dbi) < 22:
                raise msf.fail("DBI stream is cut off")
            (records_index,) = struct.unpack_from("<H", dbi, 20)
            return _publics(msf, msf.stream(records_index))
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def _publics(msf: _Msf, records: bytes) -> frozenset[str]:
    names: set[str] = set()
    at = 0
    while at + 4 <= len(records):
        length, kind = struct.unpack_from("<HH", records, at)
        end = at + 2 + length
        if length < 2 or end > len(records):
            raise msf.fail(f"symbol record at {at} claims {length} bytes, {len(records) - at - 2} left")
        if kind == _S_PUB32 and length >= 12:
            name = records[at + 14 : end].split(b"\0", 1)[0]
            names.add(name.decode("utf-8", "replace"))
        at = end
    return frozenset(names)
