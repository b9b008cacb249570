"""The README's exit-code table is what the code does."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from ci.core import errors
from ci.core.proc import ToolFailed, ToolTimedOut
from ci.platforms.hosttools import ToolMissing
from ci.release.github import GitHubError
from tests.conftest import REPO


def _table(text: str) -> dict[int, str]:
    section = text[text.index("### Exit codes"):]
    return {int(code): meaning for code, meaning in re.findall(r"^\| (\d+) \| (.+) \|$", section, re.M)}


def test_the_table_names_every_code_the_errors_module_defines():
    table = _table((REPO / "README.md").read_text())
    assert set(table) == {errors.OK, errors.CHECK_FAILED, errors.BAD_INPUT, errors.ENVIRONMENT, errors.INTERRUPTED}
    assert "bad input" in table[errors.BAD_INPUT] and "tool is not installed" in table[errors.ENVIRONMENT]


def test_each_kind_of_error_exits_with_its_row():
    assert errors.BadInput.exit_code == errors.InputError.exit_code == errors.BAD_INPUT
    assert ToolMissing.exit_code == errors.EnvironmentProblem.exit_code == errors.ENVIRONMENT
    assert errors.StageFailed.exit_code == ToolFailed.exit_code == ToolTimedOut.exit_code == errors.CHECK_FAILED
    assert GitHubError.exit_code in (errors.CHECK_FAILED, errors.BAD_INPUT, errors.ENVIRONMENT)


def test_a_missing_compiler_exits_with_the_environment_code(tmp_path):
    """`build` with nothing on PATH: the toolchain search finds no gcc and says so (nothing is compiled)."""
    env = {**os.environ, "PATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "ci", "build", "--platform", "linux-x64", "--out", str(tmp_path / "out")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == errors.ENVIRONMENT, (done.returncode, done.stderr)
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
