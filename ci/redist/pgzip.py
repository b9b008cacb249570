"""Deflate on every core, with the same bytes whatever the number of cores: for .tar.gz streams and
for zip entries alike.

The input is cut into fixed blocks; each is deflated on its own, primed with the 32 KiB before
it (so it can still refer back, as pigz does: the size barely changes), and ended with a sync
flush, the last with the end of the stream. zlib releases the GIL while it deflates, so threads
run in parallel. Block boundaries depend only on the input, so one thread or sixteen give the same
bytes, and an input of one block gives exactly what one zlib stream gives. Hand-written because no
maintained library does this for Python 3.11 (pgzip's and mgzip's output depends on their thread
count; zlib-ng's parallel API is not in Python's zlib).
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
_RAW = -15  # raw deflate: gzip and zip put their own header and trailer around it


def _deflate(block: bytes, primer: bytes, level: int, last: bool) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, _RAW, zdict=primer) if primer else \
        zlib.compressobj(level, zlib.DEFLATED, _RAW)
    return compressor.compress(block) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class ParallelDeflate:
    """A raw deflate compressor with zlib's `compress(data)` / `flush()` shape; `crc` and `size`
    of what went in. Memory is a few blocks in flight, whatever the input size."""

    def __init__(self, level: int, threads: int | None = None):
        self.level = level
        threads = threads or os.cpu_count() or 1
        self.pool: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=threads)
        self.pending: deque[Future[bytes]] = deque()
        self.most_pending = 2 * threads
        self.buffer = bytearray()
        self.primer = b""
        self.crc = self.size = 0

    def compress(self, data: bytes) -> bytes:
        self.buffer += data
        done = []
        while len(self.buffer) >= BLOCK:
            done += self._submit(bytes(self.buffer[:BLOCK]), last=False)
            del self.buffer[:BLOCK]
        return b"".join(done)

    def flush(self) -> bytes:
        """The rest of the stream, ended; the compressor is finished after this."""
        try:
            return b"".join(self._submit(bytes(self.buffer), last=True))
        finally:
            self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None

    def _submit(self, block: bytes, last: bool) -> list[bytes]:
        self.crc = zlib.crc32(block, self.crc)
        self.size += len(block)
        self.pending.append(self.pool.submit(_deflate, block, self.primer, self.level, last))
        self.primer = block[-_WINDOW:]
        done = []
        while len(self.pending) > (0 if last else self.most_pending):
            done.append(self.pending.popleft().result())
        return done


class ParallelGzipWriter:
    """A write-only file object (what tarfile needs) that writes gzip to `out`. No file name and
    mtime 0 in the header: it must not record where or when we ran."""

    def __init__(self, out: BinaryIO, level: int, threads: int | None = None):
        self.out = out
        self.deflate = ParallelDeflate(level, threads)
        xfl = 2 if level == 9 else 4 if level == 1 else 0  # as CPython's gzip module writes it
        out.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + bytes([xfl, 255]))

    def write(self, data: bytes) -> int:
        self.out.write(self.deflate.compress(data))
        return len(data)

    def tell(self) -> int:
        return self.deflate.size + len(self.deflate.buffer)

    def __enter__(self) -> ParallelGzipWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:  # failed: the caller throws the output away
            self.deflate.close()
            return
        self.out.write(self.deflate.flush())
        self.out.write(struct.pack("<II", self.deflate.crc, self.deflate.size & 0xFFFFFFFF))
