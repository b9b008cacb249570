"""A gzip stream compressed on every core, with the same bytes whatever the number of cores.

The input is cut into fixed blocks; each is deflated on its own, primed with the 32 KiB before
it (so it can still refer back, as pigz does: the size barely changes), and ended with a sync
flush, the last with the end of the stream. zlib releases the GIL while it deflates, so threads
run in parallel. Block boundaries depend only on the input, so one thread or sixteen give the same
bytes. Hand-written because no maintained library does this for Python 3.11 (pgzip's and
mgzip's output depends on their thread count; zlib-ng's parallel API is not in Python's zlib).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

BLOCK = 1 << 20
_WINDOW = 32 << 10
_RAW = -15  # raw deflate: the gzip header and trailer are written here


def _deflate(block: bytes, primer: bytes, level: int, last: bool) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, _RAW, zdict=primer) if primer else \
        zlib.compressobj(level, zlib.DEFLATED, _RAW)
    return compressor.compress(block) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class ParallelGzipWriter:
    """A write-only file object (what tarfile needs) that writes gzip to `out`. No file name and
    mtime 0 in the header: it must not record where or when we ran."""

    def __init__(self, out: BinaryIO, level: int, threads: int | None = None):
        self.out, self.level = out, level
        threads = threads or os.cpu_count() or 1
        self.pool = ThreadPoolExecutor(max_workers=threads)
        self.pending: deque[Future[bytes]] = deque()
        self.most_pending = 2 * threads  # bounds memory: a few blocks in flight, whatever the input size
        self.buffer = bytearray()
        self.primer = b""
        self.crc = self.size = 0
        xfl = 2 if level == 9 else 4 if level == 1 else 0  # as CPython's gzip module writes it
        out.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + bytes([xfl, 255]))

    def write(self, data: bytes) -> int:
        self.buffer += data
        while len(self.buffer) >= BLOCK:
            self._submit(bytes(self.buffer[:BLOCK]), last=False)
            del self.buffer[:BLOCK]
        return len(data)

    def tell(self) -> int:
        return self.size + len(self.buffer)

    def _submit(self, block: bytes, last: bool) -> None:
        self.crc = zlib.crc32(block, self.crc)
        self.size += len(block)
        self.pending.append(self.pool.submit(_deflate, block, self.primer, self.level, last))
        self.primer = block[-_WINDOW:]
        while len(self.pending) > (0 if last else self.most_pending):
            self.out.write(self.pending.popleft().result())

    def close(self) -> None:
        """End the stream: the last block, then the CRC and size trailer."""
        if self.pool is None:
            return
        try:
            self._submit(bytes(self.buffer), last=True)
            self.out.write(struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))
        finally:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None

    def __enter__(self) -> ParallelGzipWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        elif self.pool is not None:  # failed: the output is thrown away by the caller
            self.pool.shutdown(cancel_futures=True)
            self.pool = None
