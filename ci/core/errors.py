"""Errors carry a one-line message and an exit code; the CLI prints them once at the top.

Exit codes (the README's table says the same):

| code | meaning |
| --- | --- |
| 0 | ok |
| 1 | a check failed, or a stage failed (`CiError`, `StageFailed`) |
| 2 | bad input: a file, option or argument is missing, corrupt or of the wrong kind (`BadInput`, `InputError`) |
| 3 | the environment: a tool is missing, the disk is full, a limit of the machine was hit (`EnvironmentProblem`) |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

from pathlib import Path

OK = 0
CHECK_FAILED = 1
BAD_INPUT = 2
ENVIRONMENT = 3
INTERRUPTED = 130


class CiError(Exception):
    """A failure the user can act on: printed as one line, never as a traceback."""

    exit_code = CHECK_FAILED

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadInput(CiError):
    """An option or argument the user gave is not valid (an unknown rid, ...)."""

    exit_code = BAD_INPUT


class InputError(BadInput):
    """An input file is missing, corrupt or of the wrong kind."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


class EnvironmentProblem(CiError):
    """The machine, not the input: a tool is missing, the disk is full, another run holds the lock."""

    exit_code = ENVIRONMENT


class StageFailed(CiError):
    """A stage ran to the end and found violations (verify, share, ...)."""

    exit_code = CHECK_FAILED
