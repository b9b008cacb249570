"""Two builds from different clone paths, umasks, time zones, locales and file orders: same bytes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

GIT_DATE = "2026-01-02T03:04:05+00:00"


def _tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [f for f in listed.split("\0") if f and (REPO / f).is_file()]


def _clone(dest: Path, reverse: bool) -> Path:
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


def _package(clone: Path, rid: str, umask: str, tz: str, locale: str) -> Path:
    env = {**os.environ, "TZ": tz, "LC_ALL": locale, "LANG": locale}
    env.pop("SOURCE_DATE_EPOCH", None)  # the default: last commit time of the runtime source
    script = (f"umask {umask} && {sys.executable} -m ci build --platform {rid} --out build/rt && "
              f"{sys.executable} -m ci package --build build/rt --dist dist")
    done = subprocess.run(["sh", "-c", script], cwd=clone, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return clone / "dist"


def _contents(dist: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(dist.iterdir()) if p.is_file() and not p.name.startswith(".")}


@pytest.mark.parametrize("rid", ["linux-x64", "linux-arm64", "win-x64", "win-arm64"])
def test_two_clones_package_to_identical_bytes(tmp_path, rid):
    first = _package(_clone(tmp_path / "a", reverse=False), rid, "022", "UTC", "C.UTF-8")
    second = _package(_clone(tmp_path / "elsewhere" / "deeper" / "b", reverse=True), rid, "002", "Pacific/Chatham", "C")
    one, two = _contents(first), _contents(second)
    assert sorted(one) == sorted(two) and len(one) == 5  # archive, symbols, manifest copy, SBOM, SHA256SUMS
    different = [name for name in one if one[name] != two[name]]
    assert different == []
