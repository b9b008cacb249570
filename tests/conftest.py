"""Shared test helpers: run the CLI as a user would, in a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
E2E = REPO / "tests" / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e/ runs a compiler, an emulator, Docker, dotnet or a server: one
    marker for all of it, so `-m "not e2e"` leaves the fast, toolchain-free tests."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)


def default_sigint() -> None:
    """preexec_fn for a child the test will Ctrl-C: SIGINT back to its default, so Python raises
    KeyboardInterrupt as under a terminal, even when this run was started as a background job
    (which inherits SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_ci(*args: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None,
           python: str = sys.executable) -> subprocess.CompletedProcess:
    """`python -m ci ARGS` from the repository (or a copy of it at `cwd`)."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")}
    full_env = {**inherited, **(env or {})}
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


def _pipeline(factory: pytest.TempPathFactory, rid: str, *checks: str) -> dict:
    root = factory.mktemp(f"pipeline-{rid}")
    done = run_ci("pipeline", "--platform", rid, *[a for c in checks for a in ("--check", c)],
                  "--build-dir", root / "build", "--dist", root / "dist")
    assert done.returncode == 0, done.stdout + done.stderr
    return {"root": root, "build": root / "build", "dist": root / "dist", "output": done.stdout,
            "apps": root / "build" / rid / "apps"}


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One `nox -s package`-equivalent run (linux-x64) shared by the tests that only read it."""
    return _pipeline(tmp_path_factory, "linux-x64")


@pytest.fixture(scope="session")
def pipeline_arm64(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """linux-arm64: cross-built here, run under qemu-user for share and smoke."""
    return _pipeline(tmp_path_factory, "linux-arm64", "verify", "share", "smoke")


@pytest.fixture(scope="session")
def pipeline_win_x64(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """win-x64: built with mingw, run under wine for share and smoke."""
    return _pipeline(tmp_path_factory, "win-x64", "verify", "share", "smoke")


@pytest.fixture(scope="session")
def pipeline_win_arm64(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """win-arm64: built with clang + lld-link, run under qemu-user in the arm64 Debian root's Wine
    (the root is made once per machine: the first session pays for it, ~6-11 min)."""
    return _pipeline(tmp_path_factory, "win-arm64", "verify", "share", "smoke")


@pytest.fixture(scope="session")
def savings_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`python -m ci savings` for linux-x64 (native) and linux-arm64 (qemu-user), with a job summary."""
    root = tmp_path_factory.mktemp("savings")
    summary = root / "summary.md"
    done = run_ci("savings", "--platform", "linux-x64", "--platform", "linux-arm64", "--build-dir", root / "build",
                  "--dist", root / "dist", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 0, done.stdout + done.stderr
    return {"build": root / "build", "dist": root / "dist", "output": done.stdout, "summary": summary}


@pytest.fixture(scope="session")
def savings_windows(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`python -m ci savings` for win-x64 (under wine) and win-arm64 (built only)."""
    root = tmp_path_factory.mktemp("savings-windows")
    done = run_ci("savings", "--platform", "win-x64", "--platform", "win-arm64", "--build-dir", root / "build",
                  "--dist", root / "dist", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return {"build": root / "build", "report": json.loads(done.stdout)}
