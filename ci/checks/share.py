"""Prove that every app shares one loaded copy of Runtime.Base.

All apps start at once and are held at a barrier: each prints its JSON line and then blocks
reading stdin, so all are alive together until we close the pipe. While they are held we read
each process's memory maps: one Runtime.Base file per process, the same file (device + inode)
as the unpacked package in all of them, its text pages shared, and the PSS saved.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

from ci.checks.app_report import check_report, parse_line, with_host_paths
from ci.checks.apps import AppSet
from ci.core.errors import StageFailed
from ci.platforms import get_platform
from ci.platforms.runners import Runner

STARTUP_TIMEOUT = 120.0  # seconds for all apps to reach the barrier


@dataclass
class Held:
    name: str
    plugins: int  # how many plugins the app loads
    process: subprocess.Popen[bytes]
    stdout: IO[bytes]  # the process's pipes
    stderr: IO[bytes]
    line: str = ""
    buffer: bytes = b""
    report: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Region:
    path: str
    perms: str
    device: tuple[int, int]
    inode: int
    rss: int
    pss: int | None  # None where the OS does not say (Windows)
    shared_clean: int | None
    shared_dirty: int | None  # file pages not yet written back count here, though shared all the same


def _start(app_set: AppSet, runner: Runner, held: list[Held]) -> None:
    """Start every app; each one started is in `held` at once, so it is released whatever happens."""
    for app in app_set.exes:
        argv = runner.command(app_set.path(app), "--hold")
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       env=runner.env)
        except OSError as exc:
            raise StageFailed(f"share: cannot start {app.name} ({argv[0]}): {exc.strerror}") from None
        assert process.stdout is not None and process.stderr is not None  # both are pipes
        held.append(Held(app.name, len(app.plugins), process, process.stdout, process.stderr))


def _await_barrier(held: list[Held]) -> None:
    """Read each app's first line; fail on early exit, on a non-JSON line or after the deadline."""
    selector = selectors.DefaultSelector()
    for h in held:
        selector.register(h.stdout, selectors.EVENT_READ, h)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    waiting = len(held)
    while waiting:
        ready = selector.select(timeout=max(0.0, deadline - time.monotonic()))
        if not ready:
            names = ", ".join(h.name for h in held if not h.line)
            raise StageFailed(f"share: {names} did not report within {STARTUP_TIMEOUT:.0f}s")
        for key, _ in ready:
            app: Held = key.data
            chunk = os.read(app.stdout.fileno(), 65536)
            if not chunk:
                app.process.wait()
                err = app.stderr.read().decode(errors="replace").strip()
                raise StageFailed(f"share: {app.name} exited with {app.process.returncode} before reporting: {err}")
            app.buffer += chunk
            if b"\n" in app.buffer:
                app.line = app.buffer.split(b"\n", 1)[0].decode(errors="replace")
                selector.unregister(key.fileobj)
                waiting -= 1
    for h in held:
        h.report, problems = parse_line(h.name, h.line)
        if problems:
            raise StageFailed(f"share: {problems[0]}")


def _release(held: list[Held]) -> None:
    """Open the barrier (close stdin) and reap; anything still alive afterwards is killed."""
    for h in held:
        if h.process.stdin and not h.process.stdin.closed:
            h.process.stdin.close()
    for h in held:
        try:
            h.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            h.process.kill()
            h.process.wait()
        for stream in (h.stdout, h.stderr):
            stream.close()


@contextlib.contextmanager
def holding(app_set: AppSet, runner: Runner) -> Iterator[list[Held]]:
    """Every app of `app_set` started through `runner` and held at the barrier with its report
    read; all are released (and reaped) when the block ends, whatever happens in it."""
    held: list[Held] = []
    try:
        _start(app_set, runner, held)
        _await_barrier(held)
        yield held
    finally:
        _release(held)


def regions(pid: int) -> list[Region]:
    """The file-backed mappings of a process, with their sizes."""
    return _proc_regions(pid) if Path("/proc/self/maps").exists() else _psutil_regions(pid)


def _psutil_regions(pid: int) -> list[Region]:
    """Windows: psutil gives path and RSS per mapping; identity from the file itself."""
    regions = []
    for m in psutil.Process(pid).memory_maps(grouped=False):
        if m.path and os.path.isfile(m.path):
            device, inode = _file_identity(Path(m.path))
            regions.append(Region(m.path, m.perms, device, inode, m.rss, None, None, None))
    return regions


def _proc_regions(pid: int) -> list[Region]:
    """File-backed mappings with device and inode from /proc, sizes from psutil's smaps view."""
    identity = {}
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].startswith("/"):
                major, minor = (int(x, 16) for x in parts[3].split(":"))
                identity[parts[0]] = (parts[5].rstrip("\n"), parts[1], (major, minor), int(parts[4]))
    regions = []
    for m in psutil.Process(pid).memory_maps(grouped=False):
        if m.addr in identity:
            path, perms, device, inode = identity[m.addr]
            regions.append(Region(path, perms, device, inode, m.rss, m.pss, m.shared_clean, m.shared_dirty))
    return regions


def _file_identity(path: Path) -> tuple[tuple[int, int], int]:
    st = os.stat(path)
    if hasattr(os, "major"):
        return (os.major(st.st_dev), os.minor(st.st_dev)), st.st_ino
    return (st.st_dev, 0), st.st_ino  # Windows: volume serial number and file index


def _is_runtime(region: Region, library_name: str, package_file: tuple[tuple[int, int], int]) -> bool:
    """The package's file, or any file named as Runtime.Base is (libRuntime.Base.so, .so.M, .so.M.m.p;
    Runtime.Base.dll): a stray copy is found under whichever of its names the loader took."""
    name = os.path.basename(region.path)
    return (name == library_name or name.startswith(f"{library_name}.")
            or (region.device, region.inode) == package_file)


def measure(app_set: AppSet) -> dict:
    library = app_set.runtime.library.resolve()
    package_file = _file_identity(library)
    platform = get_platform(app_set.rid)
    with Runner(platform) as runner:
        runner.add_library_dir(library.parent)
        with holding(app_set, runner) as held:
            processes = [_process_view(h, platform.toolchain.library_name, package_file, runner) for h in held]
    return _summarize(processes, library, runner.mode)


def _total_kib(values: Iterable[int]) -> int:
    return sum(values) // 1024


def sum_kib(values: list[int | None]) -> int | None:
    """The total in KiB, or None when any value is unknown on this OS."""
    known = [v for v in values if v is not None]
    return _total_kib(known) if len(known) == len(values) else None


def _process_view(h: Held, library_name: str, package_file: tuple[tuple[int, int], int], runner: Runner) -> dict:
    try:
        mapped = [r for r in regions(h.process.pid) if _is_runtime(r, library_name, package_file)]
    except (psutil.Error, OSError):
        raise StageFailed(f"share: {h.name} exited before its memory maps were read (it must hold on --hold)") from None
    files = sorted({(r.device, r.inode, r.path) for r in mapped})
    # Text = the read-only file mappings: qemu-user maps guest code without host 'x' permission.
    text = [r for r in mapped if "w" not in r.perms]
    report = with_host_paths(h.report, runner.host_path)
    return {
        "app": h.name,
        "plugins": h.plugins,
        "pid": h.process.pid,
        "report": report,
        "copies": len(files),
        "files": [{"path": p, "device": f"{d[0]}:{d[1]}", "inode": i} for d, i, p in files],
        "same_file": len(files) == 1 and (files[0][0], files[0][1]) == package_file,
        "rss_kib": _total_kib(r.rss for r in mapped),
        "pss_kib": sum_kib([r.pss for r in mapped]),
        "text_shared_clean_kib": sum_kib([r.shared_clean for r in text]),
        "text_shared_kib": sum_kib([r.shared_clean + r.shared_dirty
                                     if r.shared_clean is not None and r.shared_dirty is not None else None
                                     for r in text]),
    }


def _problems(processes: list[dict], library: Path) -> list[str]:
    problems = []
    for p in processes:
        if p["copies"] != 1:
            problems.append(f"{p['app']} (pid {p['pid']}) maps {p['copies']} Runtime.Base files: {p['files']}")
        elif not p["same_file"]:
            problems.append(f"{p['app']} maps {p['files'][0]['path']}, not the package's {library}")
        if len(processes) > 1 and p["text_shared_kib"] == 0:  # None: not measurable on this OS
            problems.append(f"{p['app']}: Runtime.Base text pages are not shared with the other processes")
        problems += check_report(p["app"], p["report"], library, plugins=p["plugins"])
    return problems


def _summarize(processes: list[dict], library: Path, mode: str) -> dict:
    rss = _total_kib(p["rss_kib"] * 1024 for p in processes)
    pss = sum_kib([None if p["pss_kib"] is None else p["pss_kib"] * 1024 for p in processes])
    problems = _problems(processes, library)
    return {
        "runtime": str(library),
        "run_mode": mode,
        "processes": processes,
        "runtime_rss_kib": rss,
        "runtime_pss_kib": pss,
        "pss_saved_kib": None if pss is None else rss - pss,  # private copies would cost each process its RSS
        "problems": problems,
        "ok": not problems,
    }
