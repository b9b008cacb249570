"""What git knows about a source tree: commit, uncommitted changes, last commit time."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .runtime.output import Source


def _git(path: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def source_info(kind: str, path: Path) -> Source:
    """Describe `path` (a directory inside a checkout, or not in git at all)."""
    commit = _git(path, "rev-parse", "HEAD")
    if commit is None:
        return Source(kind=kind, commit=None, dirty=False, date_epoch=None)
    status = _git(path, "status", "--porcelain", "--untracked-files=no", "--", ".")
    # A source not committed yet takes the checkout's last commit time.
    epoch = _git(path, "log", "-1", "--format=%ct", "--", ".") or _git(path, "log", "-1", "--format=%ct")
    return Source(kind=kind, commit=commit, dirty=bool(status), date_epoch=int(epoch) if epoch else None)
