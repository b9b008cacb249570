"""Errors carry a one-line message and an exit code; the CLI prints them once at the top."""

from __future__ import annotations

from pathlib import Path


class CiError(Exception):
    """A failure the user can act on: printed as one line, never as a traceback."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InputError(CiError):
    """An input file is missing, corrupt or of the wrong kind."""

    exit_code = 2

    def __init__(self, path: str | Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


class StageFailed(CiError):
    """A stage ran to the end and found violations (verify, share, ...)."""

    exit_code = 1
