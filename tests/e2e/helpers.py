"""Building odd binaries for the end-to-end tests with the real compiler."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO

RUNTIME_SRC = REPO / "reference" / "runtime"
APPS_SRC = REPO / "reference" / "apps"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def gcc(*args: str | Path, cwd: Path | None = None) -> None:
    done = subprocess.run(["gcc", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def runtime_sources() -> list[Path]:
    return sorted((RUNTIME_SRC / "src").glob("*.c"))


def runtime_defines() -> list[str]:
    version = (RUNTIME_SRC / "VERSION").read_text().strip()
    return ["-DRUNTIME_BASE_BUILDING", f'-DRUNTIME_BASE_VERSION="{version}"', f"-I{RUNTIME_SRC / 'include'}"]


def unpacked_runtime(pipeline: dict, rid: str = "linux-x64") -> Path:
    """The unpacked package the pipeline's apps were linked against."""
    return pipeline["build"] / rid / "apps" / "runtime"


GIT_DATE = "2026-01-02T03:04:05+00:00"


def _tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [f for f in listed.split("\0") if f and (REPO / f).is_file()]


def clone_tree(dest: Path, reverse: bool = False) -> Path:
    """A copy of the work tree written in the given file order, committed with a fixed date."""
    files = _tracked_files()
    for name in reversed(files) if reverse else files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / name, target)  # fresh mtimes and umask-made modes
        shutil.copymode(REPO / name, target)
    env = {**os.environ, "GIT_AUTHOR_DATE": GIT_DATE, "GIT_COMMITTER_DATE": GIT_DATE,
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "snapshot"]):
        subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)
    return dest
