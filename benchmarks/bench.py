"""Benchmarks: pipeline wall time cold and warm, time in tools versus Python, emulation cost, sizes.

Speed targets live here, not in timed tests. Each run goes through the real CLI in a fresh
subprocess and fresh directories, so caches on disk are the only thing shared.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.table import Table

from ci.platforms import PLATFORMS
from ci.core.console import console


def _pipeline(root: Path, rids: list[str], checks: list[str]) -> tuple[float, dict]:
    argv = [sys.executable, "-m", "ci", "pipeline", "--build-dir", str(root / "build"), "--dist", str(root / "dist")]
    argv += [a for rid in rids for a in ("--platform", rid)] + [a for c in checks for a in ("--check", c)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"benchmark run failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return wall, json.loads((root / "dist" / "report.json").read_text())


def _smoke_seconds(report: dict) -> dict[str, float]:
    return {s["rid"]: sum(r["seconds"] for r in s["details"]["results"])
            for s in report["stages"] if s["stage"] == "smoke" and s["details"].get("ran")}


def run(rids: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="rbci-bench-") as tmp:
        root = Path(tmp)
        cold, report = _pipeline(root, rids, ["verify", "share", "smoke"])
        warm, warm_report = _pipeline(root, rids, ["verify", "share", "smoke"])
        sizes = {p.name: p.stat().st_size for p in sorted((root / "dist").iterdir()) if p.name.startswith("runtime-base-")}
    tools = sum(report["tool_seconds"].values())
    smoke = _smoke_seconds(warm_report)
    native = next((smoke[r] for r in smoke if PLATFORMS[r].run_mode == "native"), None)
    return {
        "platforms": rids,
        "cold_seconds": round(cold, 3),
        "warm_seconds": round(warm, 3),
        "cold_tool_seconds": report["tool_seconds"],
        "cold_tool_share": round(tools / cold, 3),
        "smoke_seconds": {r: round(s, 3) for r, s in smoke.items()},
        "smoke_ratio_to_native": {r: round(s / native, 2) for r, s in smoke.items()} if native else {},
        "sizes": sizes,
        # Largest resident set among the runs' processes (python, compilers, apps), in KiB.
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }


def show(result: dict) -> None:
    table = Table(title="runtime-base-ci benchmarks")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("cold pipeline", f"{result['cold_seconds']:.2f}s")
    table.add_row("warm pipeline (nothing changed)", f"{result['warm_seconds']:.2f}s")
    table.add_row("cold: share in compilers/objcopy", f"{result['cold_tool_share']:.0%}")
    for rid, ratio in result["smoke_ratio_to_native"].items():
        table.add_row(f"smoke {rid} vs native", f"{result['smoke_seconds'][rid]:.2f}s ({ratio}x)")
    table.add_row("peak RSS of any process", f"{result['peak_rss_kib'] / 1024:.1f} MiB")
    for name, size in result["sizes"].items():
        table.add_row(name, f"{size / 1024:.1f} KiB")
    console.print(table)
