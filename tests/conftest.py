"""Shared test helpers: run the CLI as a user would, in a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_ci(*args: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None,
           python: str = sys.executable) -> subprocess.CompletedProcess:
    """`python -m ci ARGS` from the repository (or a copy of it at `cwd`)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("GITHUB_ACTIONS", None)
    return subprocess.run([python, "-m", "ci", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, check=False)


def assert_one_line_error(done: subprocess.CompletedProcess, *fragments: str, code: int = 2) -> None:
    """A user error: non-zero exit, one line on stderr naming what is wrong, no traceback."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One full `python -m ci pipeline` run shared by the end-to-end tests that only read it."""
    root = tmp_path_factory.mktemp("pipeline")
    done = run_ci("pipeline", "--build-dir", root / "build", "--dist", root / "dist")
    assert done.returncode == 0, done.stdout + done.stderr
    return {"root": root, "build": root / "build", "dist": root / "dist", "output": done.stdout}
