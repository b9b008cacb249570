"""The binary readers against readelf: `read_binary` on a large library vs `readelf --dyn-syms -d`.

`rows()` gives one row per library: {what, seconds, reference_tool, reference_seconds, ratio}, the
medians of paired runs taken in one go (ours, then readelf, repeated), so machine load hits both.
`python -m benchmarks.readers [LIBRARY ...]` prints them; by default the largest libLLVM here.
"""

from __future__ import annotations

import glob
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ci.binaries.elf import read_elf
from ci.core.errors import CiError

REFERENCE = ("readelf", "--dyn-syms", "-d", "-W")


def large_library() -> Path:
    """The largest libLLVM on this machine (`apt-get install llvm` brings one)."""
    found = [Path(p) for p in glob.glob("/usr/lib/*/libLLVM*.so*") if os.path.isfile(p)]
    if not found:
        raise CiError("no /usr/lib/*/libLLVM*.so* to measure the readers on: install llvm")
    return max(found, key=lambda p: p.stat().st_size)


def _ours(path: Path) -> float:
    started = time.perf_counter()
    read_elf(path)  # the reader itself: read_binary would answer later runs from its cache
    return time.perf_counter() - started


def _readelf(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run([*REFERENCE, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def rows(libraries: list[Path] | None = None, repeats: int = 7) -> list[dict]:
    result = []
    for path in libraries or [large_library()]:
        _ours(path), _readelf(path)  # warm the page cache for both
        pairs = [(_ours(path), _readelf(path)) for _ in range(repeats)]
        ours = statistics.median(p[0] for p in pairs)
        reference = statistics.median(p[1] for p in pairs)
        result.append({
            "what": f"read_binary {path.name} ({path.stat().st_size >> 20} MiB)",
            "seconds": round(ours, 4),
            "reference_tool": " ".join(REFERENCE),
            "reference_seconds": round(reference, 4),
            "ratio": round(ours / reference, 2),
        })
    return result


if __name__ == "__main__":
    for row in rows([Path(a) for a in sys.argv[1:]] or None):
        print(f"{row['what']}: {row['seconds']}s, {row['reference_tool']} {row['reference_seconds']}s, "
              f"ratio {row['ratio']}x")
