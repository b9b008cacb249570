"""The one subprocess runner: missing tools, hung tools and failures end in one line; CI logs see
every command."""

from __future__ import annotations

import sys

import pytest

from ci.core.errors import EnvironmentProblem
from ci.core.proc import TOOL_SECONDS, ToolFailed, ToolTimedOut, run, run_tool


def test_a_missing_tool_is_one_line_with_the_environment_exit_code():
    with pytest.raises(EnvironmentProblem, match=r"^no-such-tool-here: not found") as caught:
        run(["no-such-tool-here", "--version"])
    assert caught.value.exit_code == 3 and "\n" not in caught.value.message


def test_a_hung_tool_is_stopped_at_its_time_out():
    with pytest.raises(ToolTimedOut, match=r"no answer within 0.5s"):
        run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)


def test_a_failing_tool_names_its_command_and_the_end_of_its_output():
    with pytest.raises(ToolFailed) as caught:
        run_tool([sys.executable, "-c", "import sys; print('first'); sys.exit('last words')"])
    assert "failed (exit 1)" in caught.value.message and caught.value.message.endswith("last words")


def test_output_is_captured_and_the_time_counted(capfd):
    before = TOOL_SECONDS[sys.executable.rsplit("/", 1)[-1]]
    done = run([sys.executable, "-c", "print('out'); import sys; print('err', file=sys.stderr); sys.exit(4)"])
    assert (done.returncode, done.stdout, done.stderr) == (4, "out\n", "err\n")
    assert TOOL_SECONDS[sys.executable.rsplit("/", 1)[-1]] > before
    assert capfd.readouterr() == ("", "")  # nothing leaks to the terminal outside CI


def test_in_github_actions_each_command_is_echoed_on_stderr_not_stdout(monkeypatch, capfd):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    run([sys.executable, "-c", "pass"])
    out, err = capfd.readouterr()
    assert out == "" and err.startswith(f"$ {sys.executable} -c pass")
