"""Fuzz the ELF and PE readers: mutants of real binaries built on the fly, each read under caps.

`python -m benchmarks.fuzz` (or `nox -s fuzz`): builds an ELF library and app (gcc), an ELF32
library (clang, i686), a big-endian one (PowerPC64), a PE DLL and EXE (mingw) and an lld-link EXE
with its PDB, then reads seeded mutants of them (byte flips anywhere, flips in the headers,
hostile integers at aligned offsets near either end, where the headers and the ELF section table
sit, cuts at the end or anywhere) through `read_binary` in worker processes; a mutated PDB is
read beside its unchanged EXE. Each read runs under a time cap (a timer signal) and an
address-space cap (RLIMIT_AS). A read must end in a model or in one InputError/CiError line;
anything else is a crash, a timer expiry a hang. Prints a table and writes JSON (default
dist/fuzz.json, schema fuzz.schema.json).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import jsonschema
from rich.table import Table

from ci.binaries import read_binary
from ci.core.console import console
from ci.core.errors import CiError
from ci.core.fs import atomic_write_text

LIB_C = """
int counter = 7;
__thread int slot;
int add(int a, int b) { return a + b + counter + slot; }
int old_add(int a) { return a; }
__asm__(".symver old_add, add@V0.9");
"""
LIB_MAP = "V0.9 { };\nV1.0 { global: add; counter; slot; local: *; } V0.9;\n"
APP_C = """
#include <stdio.h>
extern int add(int, int);
extern int counter;
int main(void) { printf("%d\\n", add(counter, 2)); return 0; }
"""
DLL_C = """
__declspec(dllexport) int counter = 7;
__declspec(dllexport) int add(int a, int b) { return a + b + counter; }
"""
EXE_C = """
#include <windows.h>
__declspec(dllimport) int add(int, int);
int main(void) { return add(1, (int)GetTickCount()); }
"""
LLD_EXE_C = "int helper(int a) { return a + 1; }\nint mainCRTStartup(void) { return helper(2); }\n"
MINGW = "x86_64-w64-mingw32-gcc"
INTERESTING = (0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)
SCHEMA = Path(__file__).with_name("fuzz.schema.json")
STRATEGIES = ("flip-anywhere", "flip-header", "hostile-integer", "cut-end", "cut-anywhere")


def build_inputs(out: Path) -> dict[str, Path]:
    """Real binaries to mutate: gcc ELF library and app, mingw PE DLL and EXE."""
    sources = {"lib.c": LIB_C, "lib.map": LIB_MAP, "app.c": APP_C, "dll.c": DLL_C, "exe.c": EXE_C, "lld.c": LLD_EXE_C}
    for name, text in sources.items():
        (out / name).write_text(text)
    commands = [
        ["gcc", "-shared", "-fPIC", "-o", "libfuzz.so", "-Wl,-soname,libfuzz.so", "-Wl,--version-script=lib.map",
         "lib.c"],
        ["gcc", "-o", "app", "app.c", "-L.", "-lfuzz", "-Wl,-rpath,$ORIGIN"],
        [MINGW, "-shared", "-o", "fuzz.dll", "dll.c", "-Wl,--out-implib,libfuzz.dll.a"],
        [MINGW, "-o", "app.exe", "exe.c", "-L.", "-lfuzz.dll"],
        ["clang", "--target=i686-linux-gnu", "-nostdlib", "-fuse-ld=lld", "-shared", "-fPIC", "-o", "libfuzz32.so",
         "-Wl,--version-script=lib.map", "lib.c"],
        ["clang", "--target=powerpc64-linux-gnu", "-nostdlib", "-fuse-ld=lld", "-shared", "-fPIC", "-o",
         "libfuzz-be.so", "-Wl,--version-script=lib.map", "-Wl,--build-id", "lib.c"],
        ["clang", "--target=x86_64-pc-windows-msvc", "-c", "-o", "lld.obj", "lld.c"],
        ["lld-link", "/out:lld.exe", "/subsystem:console", "/nodefaultlib", "/debug", "/pdb:lld.pdb",
         "/pdbaltpath:%_PDB%", "lld.obj"],
    ]
    for argv in commands:
        done = subprocess.run(argv, cwd=out, capture_output=True, text=True)
        if done.returncode != 0:
            raise CiError(f"{argv[0]} failed building fuzz inputs: {done.stderr.strip().splitlines()[-1:]}")
    return {name: out / name for name in ("libfuzz.so", "libfuzz32.so", "libfuzz-be.so", "app", "fuzz.dll",
                                              "app.exe", "lld.exe", "lld.pdb")}


def mutate(data: bytes, rng: random.Random, strategy: str) -> bytes:
    """One mutant of `data`; the 2-4 magic bytes stay so the right reader is exercised."""
    keep = 4
    if strategy == "cut-end":
        return data[: len(data) - rng.randint(1, 512)]
    if strategy == "cut-anywhere":
        return data[: rng.randrange(keep, len(data))]
    damaged = bytearray(data)
    if strategy == "hostile-integer":
        for _ in range(rng.randint(1, 4)):
            width = rng.choice((2, 4, 8))
            near = min(len(data), 0x1000) - width
            at = rng.randrange(keep, near) if rng.random() < 0.5 else rng.randrange(len(data) - near, len(data) - width)
            at = at // width * width
            value = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
            struct.pack_into({2: "<H", 4: "<I", 8: "<Q"}[width], damaged, max(at, keep), value)
        return bytes(damaged)
    limit = 0x400 if strategy == "flip-header" else len(data)
    for _ in range(rng.randint(1, 12)):
        damaged[rng.randrange(keep, limit)] = rng.randrange(256)
    return bytes(damaged)


_FORMATS = {"libfuzz.so": "elf", "libfuzz32.so": "elf", "libfuzz-be.so": "elf", "app": "elf",
            "fuzz.dll": "pe", "app.exe": "pe", "lld.exe": "pe", "lld.pdb": "pdb"}


def _place(workdir: Path, name: str, mutant: bytes, originals: dict[str, bytes], index: int) -> Path:
    """Write the mutant where read_binary will read it: a PDB beside its unchanged EXE."""
    target = workdir / ("lld.exe" if name == "lld.pdb" else "mutant")
    if name == "lld.pdb":
        (workdir / "lld.pdb").write_bytes(mutant)
        target.write_bytes(originals["lld.exe"])
    else:
        target.write_bytes(mutant)
    os.utime(target, ns=(index, index))  # a new cache key for read_binary
    return target


class _Hang(Exception):
    pass


def _on_timer(signum: int, frame: object) -> None:
    raise _Hang()


def _worker(job: tuple[int, dict[str, str], list[int], int, float, int, str]) -> dict:
    """Read the mutants numbered `indexes` in this process, under the caps; summarize the outcomes."""
    seed, inputs, indexes, memory_cap, time_cap, keep_crashes, crash_dir = job
    resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))
    signal.signal(signal.SIGALRM, _on_timer)
    originals = {name: Path(path).read_bytes() for name, path in inputs.items()}
    names = sorted(originals)
    outcomes: Counter[str] = Counter()
    failures: list[dict] = []
    slowest, slowest_mutant = 0.0, None
    peak_growth_kib, peak_mutant = 0, None
    workdir = Path(tempfile.mkdtemp(prefix="rbci-fuzz-"))
    for index in indexes:
        rng = random.Random(seed * 1_000_003 + index)
        name, strategy = names[index % len(names)], STRATEGIES[(index // len(names)) % len(STRATEGIES)]
        mutant = mutate(originals[name], rng, strategy)
        target = _place(workdir, name, mutant, originals, index)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, time_cap)
        outcome, detail = "model", ""
        try:
            read_binary(target)
        except _Hang:
            outcome = "hang"
        except CiError as exc:
            outcome, detail = ("error line", "") if "\n" not in str(exc) else ("crash", f"multi-line: {exc!s:.200}")
        except MemoryError:
            outcome, detail = "over memory cap", "MemoryError"
        except Exception as exc:
            outcome, detail = "crash", f"{type(exc).__name__}: {str(exc)[:200]}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if time.perf_counter() - started > slowest:
            slowest, slowest_mutant = time.perf_counter() - started, index
        growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        if growth > peak_growth_kib:
            peak_growth_kib, peak_mutant = growth, index
        outcomes[f"{_FORMATS[name]} {outcome}"] += 1
        if outcome not in ("model", "error line"):
            failures.append({"mutant": index, "input": name, "strategy": strategy, "outcome": outcome,
                             "detail": detail})
            if len(failures) <= keep_crashes:
                Path(crash_dir, f"mutant-{index}-{name}").write_bytes(mutant)
    return {"outcomes": dict(outcomes), "failures": failures, "slowest_seconds": slowest,
            "slowest_mutant": slowest_mutant, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "peak_growth_kib": peak_growth_kib, "peak_growth_mutant": peak_mutant}


def run(mutants: int, seed: int, jobs: int, memory_cap_mib: int, time_cap: float, crash_dir: Path) -> dict:
    crash_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rbci-fuzz-inputs-") as tmp:
        inputs = {name: str(path) for name, path in build_inputs(Path(tmp)).items()}
        chunks = [list(range(start, mutants, jobs * 4)) for start in range(jobs * 4)]
        work = [(seed, inputs, chunk, memory_cap_mib << 20, time_cap, 20, str(crash_dir)) for chunk in chunks]
        started = time.perf_counter()
        # A fresh process per chunk: each starts under its own caps, and a crash stays in it.
        with multiprocessing.get_context("spawn").Pool(jobs, maxtasksperchild=1) as pool:
            parts = pool.map(_worker, work)
        wall = time.perf_counter() - started
    outcomes: Counter[str] = Counter()
    for part in parts:
        outcomes.update(part["outcomes"])
    failures = sorted((f for part in parts for f in part["failures"]), key=lambda f: f["mutant"])
    peak = max(parts, key=lambda p: p["peak_growth_kib"])
    return {
        "mutants": mutants, "seed": seed, "seconds": round(wall, 2),
        "caps": {"seconds_per_read": time_cap, "address_space_mib": memory_cap_mib},
        "outcomes": dict(sorted(outcomes.items())),
        "crashes": sum(1 for f in failures if f["outcome"] == "crash"),
        "hangs": sum(1 for f in failures if f["outcome"] == "hang"),
        "over_memory_cap": sum(1 for f in failures if f["outcome"] == "over memory cap"),
        "slowest_read_seconds": round(max(p["slowest_seconds"] for p in parts), 4),
        "slowest_mutant": max(parts, key=lambda p: p["slowest_seconds"])["slowest_mutant"],
        "peak_rss_mib": round(max(p["peak_rss_kib"] for p in parts) / 1024, 1),
        "largest_growth_by_one_read_mib": round(peak["peak_growth_kib"] / 1024, 1),
        "largest_growth_mutant": peak["peak_growth_mutant"],
        "failures": failures[:200],
        "kept_mutants": str(crash_dir),
    }


def show(result: dict) -> None:
    table = Table(title=f"reader fuzzing: {result['mutants']} mutants, seed {result['seed']}, {result['seconds']}s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for outcome, count in result["outcomes"].items():
        table.add_row(outcome, str(count))
    for key in ("crashes", "hangs", "over_memory_cap", "slowest_read_seconds", "peak_rss_mib",
                "largest_growth_by_one_read_mib"):
        table.add_row(key.replace("_", " "), str(result[key]))
    console.print(table)
    for failure in result["failures"][:10]:
        console.print(f"mutant {failure['mutant']} ({failure['input']}, {failure['strategy']}): "
                      f"{failure['outcome']} {failure['detail']}", markup=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__.splitlines()[0])
    p.add_argument("--mutants", type=int, default=10_000, help="how many mutants (default: 10000)")
    p.add_argument("--seed", type=int, default=1, help="seed; the same seed gives the same mutants")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    p.add_argument("--memory-cap-mib", type=int, default=1024, help="address-space cap per worker (default 1024)")
    p.add_argument("--time-cap", type=float, default=2.0, help="seconds per read before it counts as a hang")
    p.add_argument("--out", default="dist/fuzz.json", help="where the JSON goes (default: dist/fuzz.json)")
    args = p.parse_args(argv)
    try:
        result = run(args.mutants, args.seed, args.jobs, args.memory_cap_mib, args.time_cap,
                     Path(args.out).parent / "fuzz-mutants")
    except CiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    show(result)
    jsonschema.validate(result, json.loads(SCHEMA.read_text()))
    atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    console.print(f"fuzz results: {args.out}", markup=False)
    return 1 if result["crashes"] or result["hangs"] or result["over_memory_cap"] else 0


if __name__ == "__main__":
    sys.exit(main())
