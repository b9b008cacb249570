"""Drive the fork's own build (build.sh / build.cmd): the command per platform, a log with live
progress, the whole process group killed on timeout or Ctrl-C, and a cache key so an unchanged
checkout is not rebuilt (the build takes the better part of an hour).
"""

from __future__ import annotations

import hashlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ci.core import cache
from ci.core.errors import CiError
from ci.core.git import git
from ci.platforms import Platform, host_rid
from ci.core.console import console, in_github_actions
from ci.runtime.output import (DEFAULT_CONFIGURATION, DEFAULT_LIBRARIES_CONFIGURATION, LIBRARIES_CONFIGURATIONS,
                               RUNTIME_CONFIGURATIONS)
from ci.runtime.fork import stand_in
from ci.runtime.fork.layout import ASM_OFFSETS, BUILD_SCRIPTS, OS_NAMES

SUBSETS = "clr.aot+libs"
BINLOGS = "artifacts/log/**/*.binlog"  # where -bl leaves the binary logs (Arcade's artifacts/log/<Configuration>/)
ARTIFACTS = "artifacts"  # the build's outputs, git-ignored in the fork
STATE_DIR = Path(ARTIFACTS) / "runtime-base-ci"  # our stamps and logs, beside them
TAIL_LINES = 30
TICK = 1.0  # seconds between progress refreshes while the build prints nothing
PLAIN_EVERY = 60.0  # seconds between progress lines in CI logs

#: (lines so far, seconds elapsed, last line)
Watch = Callable[[int, float, str], None]


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)  # added to this process's environment

    def __str__(self) -> str:
        return " ".join(self.argv)


#: Turns a command for this host into one for elsewhere (the container door wraps it in `docker exec`).
Wrap = Callable[[Command], Command]


@dataclass(frozen=True)
class BuildRequest:
    checkout: Path
    platform: Platform
    configuration: str = DEFAULT_CONFIGURATION  # -rc: the runtime's configuration
    libraries_configuration: str = DEFAULT_LIBRARIES_CONFIGURATION  # -lc
    rootfs: Path | None = None  # a cross build's target root (ROOTFS_DIR)
    image: str | None = None  # the container image id the build runs in, if any

    @property
    def label(self) -> str:
        return f"{self.platform.rid}-{self.configuration}-{self.libraries_configuration}"


class BuildInterrupted(CiError):
    exit_code = 130


def command(req: BuildRequest, host: str | None = None) -> Command:
    """build.sh/build.cmd with the subsets, configurations and target; `host` defaults to this machine."""
    p = req.platform
    host_os, _, host_arch = (host or host_rid()).partition("-")
    if p.os != host_os:
        raise CiError(f"{p.rid}: the fork builds it on a {p.os} host only (runner {p.runner}), this is {host_os}")
    if req.configuration not in RUNTIME_CONFIGURATIONS or req.libraries_configuration not in LIBRARIES_CONFIGURATIONS:
        raise CiError(f"configurations {req.configuration}/{req.libraries_configuration}: runtime one of "
                      f"{', '.join(RUNTIME_CONFIGURATIONS)}, libraries one of {', '.join(LIBRARIES_CONFIGURATIONS)}")
    # Single-dash options: build.cmd hands them to PowerShell parameters, build.sh accepts both forms.
    args = ["-s", SUBSETS, "-rc", req.configuration, "-lc", req.libraries_configuration,
            "-a", p.arch, "-os", OS_NAMES[p.os], "-bl"]  # -bl: an MSBuild binary log under artifacts/log/
    if in_github_actions():  # as upstream's CI builds (eng/pipelines/common/global-build-job.yml @ 00869a8)
        args.append("-ci")
    # Build nodes left running would outlive a cancelled build and hold its log pipe open.
    env = {"MSBUILDDISABLENODEREUSE": "1"}
    if p.os == "linux" and (p.arch != host_arch or req.rootfs):
        if not req.rootfs:
            raise CiError(f"{p.rid} on a {host_os}-{host_arch} host is a cross build: set ROOTFS_DIR (or --rootfs) "
                          f"to a {p.arch} root file system (/crossrootfs/{p.arch} in the build image)")
        args.append("--cross")
        env["ROOTFS_DIR"] = str(req.rootfs)
    script = str(req.checkout / BUILD_SCRIPTS[p.os])
    argv = ("cmd.exe", "/c", script, *args) if p.os == "win" else (script, *args)
    return Command(argv, req.checkout, env)


# --- cache key ------------------------------------------------------------------------------


def _git(checkout: Path, *args: str) -> bytes:
    return git(checkout, *args, required="the build cache key")


def cache_key(req: BuildRequest) -> str:
    """Commit, uncommitted changes, untracked files, AsmOffsets.h, target, configurations, image.

    AsmOffsets.h is there by name: its changes do not rebuild the assembler files (a known trap).
    """
    checkout = req.checkout
    commit = _git(checkout, "rev-parse", "HEAD").decode().strip()
    changes = hashlib.sha256(_git(checkout, "diff", "HEAD", "--binary")).hexdigest()
    untracked = _git(checkout, "ls-files", "-z", "--others", "--exclude-standard", "--", ".", f":(exclude){ARTIFACTS}")
    names = [n for n in untracked.decode("utf-8", "surrogateescape").split("\0") if n and (checkout / n).is_file()]
    files = {f"untracked/{name}": checkout / name for name in names}
    files["asm-offsets"] = checkout / ASM_OFFSETS
    return cache.digest(files, {"commit": commit, "changes": changes, "rid": req.platform.rid,
                                "configuration": req.configuration, "libraries": req.libraries_configuration,
                                "image": req.image})


def stamp_path(req: BuildRequest) -> Path:
    """The last successful build's cache key: with the outputs, what lets a rerun skip the build."""
    return req.checkout / STATE_DIR / f"build-{req.label}.key"


def log_path(req: BuildRequest) -> Path:
    return req.checkout / STATE_DIR / f"build-{req.label}.log"


def stand_ins(req: BuildRequest) -> list[str]:
    """['build.sh'] (or build.cmd) when the build that made the outputs said it is a stand-in."""
    try:
        with open(log_path(req), encoding="utf-8", errors="replace") as log:
            first = log.readline()
    except OSError:
        return []
    return [BUILD_SCRIPTS[req.platform.os]] if stand_in.announced(first) else []


def run_fork_build(req: BuildRequest, outputs: Sequence[Path] = (), force: bool = False, timeout: float | None = None,
          wrap: Wrap | None = None, watch: Watch | None = None) -> bool:
    """Run the fork's build unless the last success had the same key and left `outputs`; True when it ran."""
    key = cache_key(req)
    stamp = stamp_path(req)
    if not force and cache.is_fresh(stamp, key, outputs):
        return False
    stamp.unlink(missing_ok=True)  # a failed or interrupted build leaves no success behind
    cmd = command(req)
    run_logged(wrap(cmd) if wrap else cmd, log_path(req), timeout, watch)
    cache.mark_fresh(stamp, key)
    return True


# --- running it -----------------------------------------------------------------------------

_EXITED = object()  # queued when the build's first process exits
_EOF = object()  # queued when its output pipe closes


def run_logged(cmd: Command, log: Path, timeout: float | None = None, watch: Watch | None = None) -> None:
    """Run `cmd` with its output in `log`; raise with the log's tail on failure, timeout or Ctrl-C."""
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = None
    try:
        proc, interrupted = _start_shielded(cmd)
        if interrupted:
            raise KeyboardInterrupt
        tail = _follow(proc, log, timeout, watch)
    except KeyboardInterrupt:
        if proc:
            _kill_group(proc)
        raise BuildInterrupted(f"interrupted: killed the fork build's process group (log: {log})") from None
    except BaseException:
        if proc:
            _kill_group(proc)  # whatever went wrong here, no hour-long build is left running detached
        raise
    if proc.returncode != 0:
        raise CiError(f"fork build failed (exit {proc.returncode}): {cmd}\n{_tail(tail)}\nlog: {log}")


def _follow(proc: subprocess.Popen, log: Path, timeout: float | None, watch: Watch | None) -> deque[str]:
    """Copy the output to `log` until the build has exited and its pipe is closed; returns the last lines."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(proc, lines), daemon=True).start()
    threading.Thread(target=lambda: (proc.wait(), lines.put(_EXITED)), daemon=True).start()
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    count, eof, exited = 0, False, False
    with open(log, "w", encoding="utf-8", errors="replace") as sink:
        while not (eof and exited):
            left = None if timeout is None else started + timeout - time.monotonic()
            if left is not None and left <= 0:
                _kill_group(proc)
                raise CiError(f"fork build timed out after {timeout:g}s: killed its process group\n"
                              f"{_tail(tail)}\nlog: {log}")
            try:
                item = lines.get(timeout=TICK if left is None else min(TICK, left))
            except queue.Empty:
                item = None
            if item is _EOF:
                eof = True
            elif item is _EXITED:
                exited = True
                _kill_group(proc)  # whatever it left behind is an orphan, and would hold the pipe open
            elif item is not None:
                count += 1
                tail.append(item)
                sink.write(item + "\n")
            if watch:
                watch(count, time.monotonic() - started, tail[-1] if tail else "")
    return tail


def _start(cmd: Command) -> subprocess.Popen:
    # Its own process group (session), so it can be killed whole and the terminal's Ctrl-C reaches only us.
    group = {"start_new_session": True} if os.name == "posix" else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    try:
        return subprocess.Popen(cmd.argv, cwd=cmd.cwd, env={**os.environ, **cmd.env}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **group)
    except OSError as exc:
        raise CiError(f"{cmd.argv[0]}: cannot start the fork's build ({exc.strerror})") from None


def _start_shielded(cmd: Command) -> tuple[subprocess.Popen, bool]:
    """_start with a Ctrl-C held back until the process object exists (its group can then be
    killed); returns whether one came meanwhile. Only the main thread can set signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        return _start(cmd), False
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: pending.append(number))
    try:
        proc = _start(cmd)
    finally:
        signal.signal(signal.SIGINT, previous)
    return proc, bool(pending)  # read after the handler is back: none is lost in between


def _pump(proc: subprocess.Popen, lines: queue.Queue) -> None:
    for raw in iter(proc.stdout.readline, b""):
        lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
    lines.put(_EOF)


def _kill_group(proc: subprocess.Popen) -> None:
    """The build and everything it started: its process group (POSIX), its process tree (Windows)."""
    if os.name == "posix":
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return
    with suppress(psutil.NoSuchProcess):
        leader = psutil.Process(proc.pid)
        for p in (*leader.children(recursive=True), leader):
            with suppress(psutil.NoSuchProcess):
                p.kill()


def _tail(tail: deque[str]) -> str:
    return "\n".join("    " + line for line in tail) or "    (no output)"


# --- progress -------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}m{int(seconds) % 60:02d}s"


@contextmanager
def watching(title: str) -> Iterator[Watch]:
    """A live status line on a terminal; in CI (or piped) a plain line every minute."""
    if console.is_terminal and not in_github_actions():
        with console.status(title) as status:
            yield lambda n, elapsed, last: status.update(f"{title}: {n} lines, {_clock(elapsed)}  {last[:100]}")
        return
    next_at = [PLAIN_EVERY]

    def plain(n: int, elapsed: float, last: str) -> None:
        if elapsed >= next_at[0]:
            next_at[0] += PLAIN_EVERY
            console.print(f"  {title}: {n} lines after {_clock(elapsed)}: {last[:160]}", markup=False, highlight=False)
    yield plain
