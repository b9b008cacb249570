"""Running external tools (compilers, objcopy): one place that times them and reports failures."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ci.core.errors import CiError, EnvironmentProblem

#: Wall seconds spent in each external tool in this process, for the report.
TOOL_SECONDS: Counter[str] = Counter()


class ToolFailed(CiError):
    pass


def require(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise EnvironmentProblem(f"{tool}: not found on PATH (install it, see README 'Prerequisites')")
    return found


def run_tool(args: Sequence[str | Path], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a tool to completion; on failure raise with the command and the end of its output."""
    argv = [str(a) for a in args]
    require(argv[0])
    started = time.perf_counter()
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    finally:
        TOOL_SECONDS[Path(argv[0]).name] += time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        detail = "\n".join("    " + line for line in tail)
        raise ToolFailed(f"{' '.join(argv[:1])} failed (exit {done.returncode}): {' '.join(argv)}\n{detail}")
    return done.stdout


def tool_version(tool: str) -> str:
    """First line of `tool --version`, part of build cache keys."""
    return run_tool([tool, "--version"]).splitlines()[0]
