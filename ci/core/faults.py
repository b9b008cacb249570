"""Kill points for the tests that prove an output is consistent at every instant: a run with
RUNTIME_BASE_CI_KILL_AT=<point> SIGKILLs itself when it reaches that point (nothing to clean up,
exactly as a power cut or an OOM kill would leave it)."""

from __future__ import annotations

import os
import signal

_POINT = os.environ.get("RUNTIME_BASE_CI_KILL_AT")


def checkpoint(name: str) -> None:
    if name == _POINT:
        os.kill(os.getpid(), signal.SIGKILL)
