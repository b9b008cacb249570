"""One run at a time per output tree: an exclusive flock on a lock file beside the tree. A second
run on the same tree waits, saying which process it waits for; the lock goes with its holder's
process, so a killed run never leaves a stale lock behind."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from ci.core.fs import os_error

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # Windows: runs there use fresh per-job trees, so they go without a lock
    fcntl = None


def lock_path(tree: Path) -> Path:
    """Beside the tree, not in it: the tree itself may be swapped whole."""
    tree = Path(os.path.abspath(tree))
    return tree.parent / f".{tree.name}.lock"


@contextlib.contextmanager
def locked(tree: Path) -> Iterator[None]:
    """Hold the lock on `tree` for the block; wait (with one line on stderr) while another run has it."""
    if fcntl is None:
        yield
        return
    path = lock_path(tree)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        raise os_error(path, exc, "cannot take the lock") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            if holder != str(os.getpid()):  # another thread of this run: no need to say so
                print(f"waiting for another runtime-base-ci run (pid {holder}) to finish with {tree} ...",
                      file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
