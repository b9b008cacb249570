"""Benchmarks: every row of the performance table, each a ratio to its reference tool measured in
the same run on the same input (so a busy machine slows both sides alike), plus peak memory.

Every measured command runs in a fresh subprocess of the checkout under test (`--repo`, default
this one), so the same harness measures an older checkout too. Input: real binaries of this
machine (a ~16 MB shared library as the runtime, ~100 MB of libraries as its symbols file).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

LIB_DIR = Path("/usr/lib/x86_64-linux-gnu")
MB = 1_000_000
#: Python's bytecode cache as a user has it (our CI sandbox may switch it off).
_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "SOURCE_DATE_EPOCH",
                                                          "GITHUB_ACTIONS")}


@dataclass(frozen=True)
class Run:
    seconds: float
    rss_kib: int  # peak resident set of the process and the children it waited for


def run(argv: Sequence[str | Path], cwd: Path | None = None, shell: bool = False, env: dict | None = None) -> Run:
    """Run to completion under GNU time: wall time, and the peak RSS of that command alone (a
    child forked from this process would inherit its high-water mark)."""
    with tempfile.NamedTemporaryFile("r", prefix="rbci-rss-") as rss:
        command = ["sh", "-c", str(argv[0])] if shell else [str(a) for a in argv]
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *command], cwd=cwd,
                              env={**_ENV, **(env or {})}, capture_output=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise SystemExit(f"benchmark command failed ({done.returncode}): {command}\n{output[-2000:]}")
        return Run(seconds, int(rss.read().split()[-1]))


def median(action: Callable[[], Run], repeat: int) -> Run:
    runs = [action() for _ in range(repeat)]
    return Run(statistics.median(r.seconds for r in runs), max(r.rss_kib for r in runs))


def row(what: str, ours: Run, reference: str, ref: Run, bound: str, **extra) -> dict:
    return {"what": what, "seconds": round(ours.seconds, 3), "rss_mib": round(ours.rss_kib / 1024, 1),
            "reference": reference, "reference_seconds": round(ref.seconds, 3),
            "ratio": round(ours.seconds / ref.seconds, 2), "bound": bound, **extra}


# --- input -------------------------------------------------------------------------------


def _libraries() -> list[Path]:
    return sorted(p for p in LIB_DIR.glob("*.so*") if p.is_file() and not p.is_symlink())


def make_build(root: Path, repo: Path, symbols_bytes: int, sparse: bool = False) -> Path:
    """A build output: a real ~16 MB library as the runtime, and a symbols file of real
    libraries concatenated to `symbols_bytes` (or a sparse file of that size)."""
    lib = root / "lib"
    lib.mkdir(parents=True)
    runtime = min(_libraries(), key=lambda p: abs(p.stat().st_size - 16 * MB))
    shutil.copyfile(runtime, lib / "libRuntime.Base.so")
    with open(lib / "libRuntime.Base.so.dbg", "wb") as out:
        if sparse:
            out.truncate(symbols_bytes)
        else:
            for path in _libraries():
                with open(path, "rb") as f:
                    while out.tell() < symbols_bytes and (chunk := f.read(min(1 << 20, symbols_bytes - out.tell()))):
                        out.write(chunk)
    (root / "include").mkdir()
    shutil.copyfile(repo / "reference" / "runtime" / "include" / "RuntimeBase.h", root / "include" / "RuntimeBase.h")
    info = {"name": "Runtime.Base", "version": "10.0.0-bench", "rid": "linux-x64", "configuration": "Release",
            "source": {"kind": "reference", "commit": None, "dirty": False, "date_epoch": 1_700_000_000},
            "library": "lib/libRuntime.Base.so", "link": ["lib/libRuntime.Base.so"],
            "include": ["include/RuntimeBase.h"], "debug": ["lib/libRuntime.Base.so.dbg"], "extra": []}
    (root / "build.json").write_text(json.dumps(info, indent=2) + "\n")
    return root


# --- rows --------------------------------------------------------------------------------

_LEVEL = "import ci.redist.archive as a; print(getattr(a, 'LEVEL', getattr(a, '_LEVEL', 9)))"
_WRITE = ("import sys; from pathlib import Path; from ci.redist.archive import write_tar_gz; root = Path(sys.argv[1]); "
          "write_tar_gz(Path(sys.argv[2]), {p.relative_to(root).as_posix(): p for p in sorted(root.rglob('*')) "
          "if p.is_file()}, 0)")


def compression_rows(repo: Path, build: Path, tmp: Path) -> list[dict]:
    level = subprocess.run([sys.executable, "-c", _LEVEL], cwd=repo, env=_ENV, capture_output=True, text=True,
                           check=True).stdout.strip()
    size = sum(p.stat().st_size for p in build.rglob("*") if p.is_file())
    what = f"tar.gz of {size / MB:.0f} MB of binaries (level {level})"
    ours = run([sys.executable, "-c", _WRITE, build, tmp / "ours.tar.gz"], cwd=repo)
    gzip = run([f"tar -cf - -C {build} . | gzip -n -{level} > {tmp / 'gzip.tar.gz'}"], shell=True)
    pigz = run([f"tar -cf - -C {build} . | pigz -n -{level} > {tmp / 'pigz.tar.gz'}"], shell=True)
    nine = run([f"tar -cf - -C {build} . | gzip -n -9 > {tmp / 'gzip9.tar.gz'}"], shell=True)
    six_file = tmp / ("gzip.tar.gz" if level == "6" else "gzip6.tar.gz")
    six = gzip if level == "6" else run([f"tar -cf - -C {build} . | gzip -n -6 > {six_file}"], shell=True)
    sizes = {name: (tmp / f"{name}.tar.gz").stat().st_size for name in ("ours", "gzip", "gzip9")}
    saving = 1 - sizes["gzip9"] / six_file.stat().st_size
    return [
        row(what, ours, f"tar | gzip -n -{level}", gzip, "the compressor (zlib, one core per archive)",
            bytes=sizes["ours"], reference_bytes=sizes["gzip"]),
        row(what, ours, f"tar | pigz -n -{level}", pigz, "the compressor (pigz uses every core for one stream)"),
        row("gzip -9 against gzip -6 (why level 6)", nine, "tar | gzip -n -6", six, "the compressor",
            size_saving_percent=round(100 * saving, 2)),
    ]


def package_rows(repo: Path, tmp: Path, build: Path, sparse_build: Path) -> list[dict]:
    rows = []
    for label, source in (("116 MB", build), ("1 GB sparse", sparse_build)):
        dist = tmp / f"dist-{source.name}"
        ours = run([sys.executable, "-m", "ci", "package", "--build", source, "--dist", dist], cwd=repo)
        ref_out = tmp / f"ref-{source.name}"
        ref_out.mkdir()
        script = (f"tar -cf - -C {source} include lib/libRuntime.Base.so | gzip -n -6 > {ref_out}/a.tgz && "
                  f"tar -cf - -C {source} lib/libRuntime.Base.so.dbg | gzip -n -6 > {ref_out}/b.tgz && "
                  f"sha256sum {source}/lib/* {source}/include/* {ref_out}/*.tgz > /dev/null")
        ref = run([script], shell=True)
        rows.append(row(f"package stage, {label} symbols", ours, "two tar | gzip -n -6 + sha256sum", ref,
                        "the compressor: both archives at once on 2 cores; inputs hashed once",
                        rss_limit_mib=64))
    return rows


def cli_rows(repo: Path, tmp: Path) -> list[dict]:
    root = tmp / "pipeline"
    argv: list[str | Path] = [sys.executable, "-m", "ci", "pipeline", "--build-dir", root / "build", "--dist", root / "dist"]
    cold = run(argv, cwd=repo)
    report = json.loads((root / "dist" / "report.json").read_text())
    tools = sum(report["tool_seconds"].values())
    apps = root / "build" / "linux-x64" / "apps"
    apps_args: list[str | Path] = [a for p in sorted((apps / "bin").rglob("*")) if p.is_file() for a in ("--app", p)]
    verify = [sys.executable, "-m", "ci", "verify", "--runtime", apps / "runtime" / "lib" / "libRuntime.Base.so",
              *apps_args]
    run(verify, cwd=repo)  # bytecode cached, as for a user's second call
    ours = median(lambda: run(verify, cwd=repo), 5)
    bare = median(lambda: run([sys.executable, "-c", "pass"]), 5)
    return [
        row("cold pipeline (linux-x64)", cold, "its gcc/objcopy commands alone", Run(tools, 0),
            "the compiler and Python start"),
        row("verify of 6 apps, one CLI call", ours, "python -c pass", bare,
            "Python start and imports, then the ELF reader", over_reference_seconds=round(ours.seconds - bare.seconds, 3)),
    ]


def nativeaot_rows(repo: Path, tmp: Path) -> list[dict]:
    """The NativeAOT twins' publish (ci.checks.nativeaot, every sample and the plugin) against the same
    `dotnet publish` commands typed one after another on a copy of samples/. NuGet's cache is warm
    for both (a first publish fills it), so the row compares our orchestration, not the network."""
    from ci.checks import nativeaot
    from ci.checks.csharp_apps import default_dotnet
    from ci.runtime.fork import linkplan

    dotnet = default_dotnet()
    if dotnet is None:
        return [{"what": "NativeAOT twins publish (linux-x64)", "reference": "dotnet publish, one after another",
                 "bound": "not measured: no dotnet on PATH"}]
    source = tmp / "samples"
    shutil.copytree(linkplan.samples_dir(), source, ignore=shutil.ignore_patterns("bin", "obj"))
    samples = nativeaot.samples()
    commands = [nativeaot.publish_command(dotnet, source / folder / f"{name}.csproj", "linux-x64",
                                          tmp / "ref" / name, tmp / "ref" / f"{name}.map")
                for name, folder in samples]
    run(commands[0])  # fills NuGet's cache and starts MSBuild's build server, for both sides alike
    shutil.rmtree(tmp / "ref")
    shutil.rmtree(source / samples[0][1] / "obj")  # the warm-up's outputs: both sides then build from scratch
    ref = run([" && ".join(subprocess.list2cmdline(c) for c in commands)], shell=True)
    publish = ("import sys; from pathlib import Path; from ci.checks import nativeaot; from ci.platforms import "
               "get_platform; nativeaot.publish_all(get_platform('linux-x64'), Path(sys.argv[1]), Path(sys.argv[2]))")
    ours = run([sys.executable, "-c", publish, tmp / "ours", dotnet], cwd=repo)
    return [row(f"NativeAOT twins publish, linux-x64 ({len(commands)} projects)", ours,
                "the same dotnet publish commands, one after another", ref,
                "dotnet publish itself (ILC and the link); ours adds the plugin hosts' clang compiles")]


def nox_rows(repo: Path) -> list[dict]:
    nox: list[str | Path] = [sys.executable, "-m", "nox", "-f", repo / "noxfile.py"]
    run([*nox, "-s", "package"], cwd=repo)  # makes the session venv when there is none, and the build
    warm = median(lambda: run([*nox, "-s", "package"], cwd=repo), 3)
    reused = median(lambda: run([*nox, "-R", "-s", "package"], cwd=repo), 3)
    return [row("nox -s package, warm (nothing changed)", warm, "nox -R -s package", reused,
                "Python start and the pipeline's own up-to-date checks")]


def reader_rows() -> list[dict]:
    """The ELF reader on the largest libLLVM here against readelf (benchmarks/readers.py)."""
    from benchmarks import readers

    measured = readers.rows()  # in this process: its peak RSS is the reader's, on the largest library
    peak_mib = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return [{"what": r["what"], "seconds": r["seconds"], "reference": r["reference_tool"],
             "reference_seconds": r["reference_seconds"], "ratio": r["ratio"], "rss_mib": peak_mib,
             "bound": "the reader's one struct pass over .dynsym"} for r in measured]


def run_all(repo: Path, with_nox: bool = True) -> dict:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rbci-bench-") as tmp_name:
        tmp = Path(tmp_name)
        build = make_build(tmp / "build-real", repo, 100 * MB)
        sparse = make_build(tmp / "build-sparse", repo, 1 << 30, sparse=True)
        rows = [*compression_rows(repo, build, tmp), *package_rows(repo, tmp, build, sparse),
                *reader_rows(), *cli_rows(repo, tmp), *nativeaot_rows(repo, tmp),
                *(nox_rows(repo) if with_nox else [])]
    return {"schema_version": 1, "repo": str(repo), "cores": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()], "python": sys.version.split()[0],
            "seconds": round(time.perf_counter() - started, 1), "rows": rows}


def show(result: dict) -> None:
    from rich.table import Table

    from ci.core.console import console

    table = Table(title=f"runtime-base-ci benchmarks ({result['cores']} cores, load {result['load_average'][0]})")
    for column in ("what", "ours", "reference", "ratio", "peak RSS", "bound by"):
        table.add_column(column, justify="right" if column in ("ours", "ratio", "peak RSS") else "left")
    for r in result["rows"]:
        if "seconds" not in r:
            table.add_row(r["what"], "-", r["reference"], "-", "-", r["bound"])
            continue
        table.add_row(r["what"], f"{r['seconds']:.2f}s", f"{r['reference']} {r['reference_seconds']:.2f}s",
                      f"{r['ratio']}x", f"{r['rss_mib']} MiB" if r["rss_mib"] else "-", r["bound"])
    console.print(table)
