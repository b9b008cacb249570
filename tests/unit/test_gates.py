"""The lint and type gates: ruff and mypy, as configured in pyproject.toml, pass on the repository."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize("command", [["ruff", "check", "--no-cache", "."], ["mypy"]], ids=["ruff", "mypy"])
def test_the_gate_is_clean(command: list[str]) -> None:
    # Through this interpreter, so the venv's pinned tool runs whatever PATH says.
    done = subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
