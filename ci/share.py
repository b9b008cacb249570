"""Prove that every app shares one loaded copy of Runtime.Base.

All apps start at once and are held at a barrier: each prints its JSON line and then blocks
reading stdin, so all are alive together until we close the pipe. While they are held we read
each process's memory maps: one Runtime.Base file per process, the same file (device + inode)
as the unpacked package in all of them, its text pages shared, and the PSS saved.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .apps import AppSet
from .errors import StageFailed
from .platforms import get_platform
from .runners import command

STARTUP_TIMEOUT = 120.0  # seconds for all apps to reach the barrier


@dataclass
class Held:
    name: str
    process: subprocess.Popen
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
    pss: int
    shared_clean: int
    shared_dirty: int  # file pages not yet written back count here, though shared all the same


def _start(app_set: AppSet) -> list[Held]:
    platform = get_platform(app_set.rid)
    held = []
    for app in app_set.exes:
        argv = command(platform, app_set.path(app), "--hold")
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        held.append(Held(app.name, process))
    return held


def _await_barrier(held: list[Held]) -> None:
    """Read each app's first line; fail on early exit, on a non-JSON line or after the deadline."""
    selector = selectors.DefaultSelector()
    for h in held:
        selector.register(h.process.stdout, selectors.EVENT_READ, h)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    waiting = len(held)
    while waiting:
        ready = selector.select(timeout=max(0.0, deadline - time.monotonic()))
        if not ready:
            names = ", ".join(h.name for h in held if not h.line)
            raise StageFailed(f"share: {names} did not report within {STARTUP_TIMEOUT:.0f}s")
        for key, _ in ready:
            h: Held = key.data
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                h.process.wait()
                err = h.process.stderr.read().decode(errors="replace").strip()
                raise StageFailed(f"share: {h.name} exited with {h.process.returncode} before reporting: {err}")
            h.buffer += chunk
            if b"\n" in h.buffer:
                h.line = h.buffer.split(b"\n", 1)[0].decode(errors="replace")
                selector.unregister(key.fileobj)
                waiting -= 1
    for h in held:
        try:
            h.report = json.loads(h.line)
        except json.JSONDecodeError:
            raise StageFailed(f"share: {h.name} printed a non-JSON line: {h.line[:200]!r}") from None


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
        for stream in (h.process.stdout, h.process.stderr):
            stream.close()


def _regions(pid: int) -> list[Region]:
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
    return (os.major(st.st_dev), os.minor(st.st_dev)), st.st_ino


def _is_runtime(region: Region, library_name: str, package_file: tuple[tuple[int, int], int]) -> bool:
    return os.path.basename(region.path) == library_name or (region.device, region.inode) == package_file


def measure(app_set: AppSet) -> dict:
    library = app_set.runtime.library.resolve()
    package_file = _file_identity(library)
    held = _start(app_set)
    try:
        _await_barrier(held)
        processes = [_process_view(h, library, package_file) for h in held]
    finally:
        _release(held)
    return _summarize(processes, library)


def _process_view(h: Held, library: Path, package_file: tuple[tuple[int, int], int]) -> dict:
    regions = [r for r in _regions(h.process.pid) if _is_runtime(r, library.name, package_file)]
    files = sorted({(r.device, r.inode, r.path) for r in regions})
    text = [r for r in regions if "x" in r.perms]
    return {
        "app": h.name,
        "pid": h.process.pid,
        "report": h.report,
        "copies": len(files),
        "files": [{"path": p, "device": f"{d[0]}:{d[1]}", "inode": i} for d, i, p in files],
        "same_file": len(files) == 1 and (files[0][0], files[0][1]) == package_file,
        "rss_kib": sum(r.rss for r in regions) // 1024,
        "pss_kib": sum(r.pss for r in regions) // 1024,
        "text_shared_clean_kib": sum(r.shared_clean for r in text) // 1024,
        "text_shared_kib": sum(r.shared_clean + r.shared_dirty for r in text) // 1024,
    }


def _problems(processes: list[dict], library: Path) -> list[str]:
    problems = []
    for p in processes:
        if p["copies"] != 1:
            problems.append(f"{p['app']} (pid {p['pid']}) maps {p['copies']} Runtime.Base files: {p['files']}")
        elif not p["same_file"]:
            problems.append(f"{p['app']} maps {p['files'][0]['path']}, not the package's {library}")
        if len(processes) > 1 and p["text_shared_kib"] == 0:
            problems.append(f"{p['app']}: Runtime.Base text pages are not shared with the other processes")
        reported = p["report"].get("runtime_path")
        if reported != str(library):
            problems.append(f"{p['app']} reports runtime {reported!r}, expected {str(library)!r}")
        for plugin in p["report"].get("plugins", []):
            if plugin.get("instance") != p["report"].get("instance"):
                problems.append(f"{p['app']}: plugin {plugin.get('name')} sees runtime instance "
                                f"{plugin.get('instance')}, the host {p['report'].get('instance')}")
    return problems


def _summarize(processes: list[dict], library: Path) -> dict:
    rss = sum(p["rss_kib"] for p in processes)
    pss = sum(p["pss_kib"] for p in processes)
    problems = _problems(processes, library)
    return {
        "runtime": str(library),
        "processes": processes,
        "runtime_rss_kib": rss,
        "runtime_pss_kib": pss,
        "pss_saved_kib": rss - pss,  # private copies would cost every process its full RSS
        "problems": problems,
        "ok": not problems,
    }
