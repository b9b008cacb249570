"""The one git helper: what git knows about a tree (commit, uncommitted changes, last commit time)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ci.core.errors import EnvironmentProblem, InputError
from ci.core.proc import run


def git(path: Path, *args: str, required: str | None = None) -> bytes | None:
    """`git -C path ARGS`'s stdout; None when git or the repository is absent, unless `required`
    names what needs it, which makes that an error."""
    try:
        done = run(["git", "-C", str(path), *args], text=False)
    except EnvironmentProblem:
        if required:
            raise EnvironmentProblem(f"git: not found on PATH ({required} needs it)") from None
        return None
    if done.returncode != 0:
        if required:
            problem = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["failed"]
            raise InputError(path, f"git {args[0]}: {problem[0]} ({required} needs a git checkout)")
        return None
    return bytes(done.stdout)


def _text(path: Path, *args: str) -> str | None:
    out = git(path, *args)
    return out.decode(errors="replace").strip() if out is not None else None


@dataclass(frozen=True)
class TreeState:
    commit: str | None  # None outside git
    dirty: bool  # uncommitted changes under the path
    date_epoch: int | None  # last commit time of the path (or of the checkout, if the path has none yet)


def tree_state(path: Path) -> TreeState:
    """Describe `path`: a directory inside a checkout, or not in git at all."""
    commit = _text(path, "rev-parse", "HEAD")
    if commit is None:
        return TreeState(commit=None, dirty=False, date_epoch=None)
    status = _text(path, "status", "--porcelain", "--untracked-files=no", "--", ".")
    epoch = _text(path, "log", "-1", "--format=%ct", "--", ".") or _text(path, "log", "-1", "--format=%ct")
    return TreeState(commit=commit, dirty=bool(status), date_epoch=int(epoch) if epoch else None)
