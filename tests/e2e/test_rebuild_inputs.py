"""Every source that reaches a binary is in the stage hashes: editing one kind rebuilds exactly the
stages it reaches, and an unchanged rerun rebuilds nothing (win-arm64: the rid with the most inputs,
its C runtime support in reference/winrt/ included)."""

from __future__ import annotations

import sys

import pytest

from ci.core import schemas
from tests.conftest import run_ci
from tests.e2e.helpers import clone_tree

RID = "win-arm64"


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory):
    return clone_tree(tmp_path_factory.mktemp("rebuild") / "repo")


def _statuses(clone) -> dict[str, str]:
    done = run_ci("pipeline", "--platform", RID, "--check", "verify", "--build-dir", clone / "build",
                  "--dist", clone / "dist", cwd=clone, python=sys.executable,
                  env={"XDG_CACHE_HOME": str(clone / ".cache")})
    assert done.returncode == 0, done.stdout + done.stderr
    report = schemas.load("report", clone / "dist" / "report.json")
    return {s["stage"]: s["status"] for s in report["stages"] if s["stage"] in ("build", "apps")}


def _touch(path) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write("\n/* edited */\n" if path.suffix in (".c", ".h") else "\n# edited\n")


@pytest.mark.parametrize("edited, rebuilt", [
    ("reference/winrt/arm64/stdio.c", {"build": "ok", "apps": "ok"}),  # the C runtime support of both
    ("reference/runtime/src/gc.c", {"build": "ok", "apps": "ok"}),  # a new runtime: apps relink against it
    ("reference/apps/hello.c", {"build": "up to date", "apps": "ok"}),
    ("ci/platforms/toolchains.py", {"build": "ok", "apps": "ok"}),  # every compile and link flag lives here
])
def test_an_edited_input_rebuilds_what_it_reaches(clone, edited, rebuilt):
    _statuses(clone)  # whatever the last case left: built and current
    assert _statuses(clone) == {"build": "up to date", "apps": "up to date"}
    _touch(clone / edited)
    assert _statuses(clone) == rebuilt
