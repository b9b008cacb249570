"""The package stage streams: its memory does not grow with the size of what it packages."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO, run_ci


def _peak_rss_kib(argv: list, tmp_path) -> int:
    """Peak RSS of the command alone (GNU time; a child forked from pytest would inherit its high-water mark)."""
    rss = tmp_path / "rss"
    done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss, *argv], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
    assert done.returncode == 0, done.stdout + done.stderr
    return int(rss.read_text().split()[-1])


def test_half_a_gigabyte_of_symbols_packages_in_under_64_mib(tmp_path):
    build = tmp_path / "runtime"
    assert run_ci("build", "--platform", "linux-x64", "--out", build).returncode == 0
    small = _peak_rss_kib([sys.executable, "-m", "ci", "package", "--build", build, "--dist", tmp_path / "a"], tmp_path)
    (symbols,) = build.glob("lib/libRuntime.Base.so.*.dbg")  # the versioned library's split symbols
    with open(symbols, "r+b") as dbg:
        dbg.truncate(512 << 20)  # the real symbols, then a hole: half a gigabyte to read, hash and deflate
    big = _peak_rss_kib([sys.executable, "-m", "ci", "package", "--build", build, "--dist", tmp_path / "b"], tmp_path)
    assert big < 64 << 10, big
    assert big - small < 16 << 10, (small, big)  # flat: not a copy of the input
    assert (tmp_path / "b" / "SHA256SUMS").is_file()
