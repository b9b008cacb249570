"""The parallel gzip writer: the same bytes whatever the number of threads, readable by gzip itself."""

from __future__ import annotations

import gzip
import io
import random
import subprocess
import zipfile

import pytest

from ci.redist.pgzip import BLOCK, ParallelGzipWriter

# Compressible but not trivial, and not a whole number of blocks.
_RNG = random.Random(7)
DATA = b"".join(_RNG.choice([b"Runtime.Base ", b"RhpNewFast ", bytes(range(256)), _RNG.randbytes(64)])
                for _ in range(40_000))[: 3 * BLOCK + 12345]


def _gzip(threads: int, level: int = 6, piece: int = 10_000) -> bytes:
    out = io.BytesIO()
    with ParallelGzipWriter(out, level, threads) as gz:
        for i in range(0, len(DATA), piece):
            gz.write(DATA[i : i + piece])
    return out.getvalue()


def test_same_bytes_whatever_the_thread_count_and_write_sizes():
    one = _gzip(1)
    assert _gzip(2) == one and _gzip(3, piece=BLOCK + 1) == one


@pytest.mark.parametrize("level", [1, 6, 9])
def test_gzip_and_python_read_it_back(tmp_path, level):
    packed = _gzip(2, level)
    assert gzip.decompress(packed) == DATA
    (tmp_path / "x.gz").write_bytes(packed)
    done = subprocess.run(["gzip", "-dc", tmp_path / "x.gz"], capture_output=True, check=True)
    assert done.stdout == DATA
    assert packed[:4] == b"\x1f\x8b\x08\x00" and packed[4:8] == b"\0\0\0\0"  # no name, no time


def test_empty_input_is_a_valid_gzip():
    out = io.BytesIO()
    with ParallelGzipWriter(out, 6, 2):
        pass
    assert gzip.decompress(out.getvalue()) == b""


def test_the_size_is_close_to_one_stream():
    assert len(_gzip(2)) <= len(gzip.compress(DATA, 6)) * 1.01


def test_zip_entries_are_deflated_in_blocks_and_read_back(tmp_path):
    from ci.redist.archive import safe_extract, write_zip

    (tmp_path / "big.bin").write_bytes(DATA)
    write_zip(tmp_path / "a.zip", {"big.bin": tmp_path / "big.bin"}, 0)
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert zf.read("big.bin") == DATA and zf.testzip() is None
        raw = zf.getinfo("big.bin")
        assert raw.compress_size < len(gzip.compress(DATA, 6)) * 1.01
    assert safe_extract(tmp_path / "a.zip", tmp_path / "out") == ["big.bin"]
    done = subprocess.run(["unzip", "-p", tmp_path / "a.zip", "big.bin"], capture_output=True)
    assert done.returncode == 0 and done.stdout == DATA
