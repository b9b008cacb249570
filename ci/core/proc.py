"""Running external tools: the one place that starts a program and waits for it. It times each
tool for the report, echoes the command in GitHub Actions' log, captures the output, and turns a
missing tool, a time-out or a failure into one line.

Two kinds of process are started elsewhere, on purpose: apps held alive at a barrier while their
memory is read (checks/share.py) and the fork's hour-long build streamed line by line into its log
(runtime/fork/driver.py); neither runs to completion here."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ci.core.console import in_github_actions
from ci.core.errors import CiError, EnvironmentProblem

#: Wall seconds spent in each external tool in this process, for the report.
TOOL_SECONDS: defaultdict[str, float] = defaultdict(float)


class ToolFailed(CiError):
    pass


class ToolTimedOut(CiError):
    pass


def require(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise EnvironmentProblem(f"{tool}: not found on PATH (install it, see README 'Prerequisites')")
    return found


def run(args: Sequence[str | Path], cwd: Path | None = None, env: Mapping[str, str] | None = None,
        timeout: float | None = None, text: bool = True, input: str | bytes | None = None,
        quiet: bool = False) -> subprocess.CompletedProcess[Any]:  # str or bytes, by `text`
    """Run a program to completion and return it, whatever its exit code; its output captured
    (`quiet`: thrown away, for daemons that keep the pipes open). A program that is not there or
    does not finish within `timeout` seconds is a one-line error."""
    argv = [str(a) for a in args]
    if in_github_actions():
        print(f"$ {' '.join(argv)}", file=sys.stderr, flush=True)  # in the step's log group; stdout may be JSON
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    started = time.perf_counter()
    try:
        return subprocess.run(argv, cwd=cwd, env=None if env is None else dict(env), stdout=output, stderr=output,
                              stdin=subprocess.DEVNULL if input is None else None, input=input, text=text,
                              errors="replace" if text else None,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise EnvironmentProblem(f"{argv[0]}: not found (install it, see README 'Prerequisites')") from None
    except OSError as exc:
        raise EnvironmentProblem(f"{argv[0]}: cannot run it ({exc.strerror})") from None
    except subprocess.TimeoutExpired:
        raise ToolTimedOut(f"{Path(argv[0]).name}: no answer within {timeout:g}s: {' '.join(argv)}") from None
    finally:
        TOOL_SECONDS[Path(argv[0]).name] += time.perf_counter() - started


def run_tool(args: Sequence[str | Path], cwd: Path | None = None, env: Mapping[str, str] | None = None,
             timeout: float | None = None) -> str:
    """Run a tool that must succeed; its stdout. On failure: the command and the end of its output."""
    argv = [str(a) for a in args]
    require(argv[0])
    done = run(argv, cwd=cwd, env=env, timeout=timeout)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        detail = "\n".join("    " + line for line in tail)
        raise ToolFailed(f"{' '.join(argv[:1])} failed (exit {done.returncode}): {' '.join(argv)}\n{detail}")
    return str(done.stdout)


def tool_version(tool: str) -> str:
    """First line of `tool --version`, part of build cache keys."""
    return run_tool([tool, "--version"]).splitlines()[0]
