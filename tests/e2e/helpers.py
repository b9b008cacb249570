"""Building odd binaries for the end-to-end tests with the real compiler."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import REPO

RUNTIME_SRC = REPO / "reference" / "runtime"
APPS_SRC = REPO / "reference" / "apps"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def gcc(*args: str | Path, cwd: Path | None = None) -> None:
    done = subprocess.run(["gcc", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def runtime_sources() -> list[Path]:
    return sorted((RUNTIME_SRC / "src").glob("*.c"))


def runtime_defines() -> list[str]:
    version = (RUNTIME_SRC / "VERSION").read_text().strip()
    return ["-DRUNTIME_BASE_BUILDING", f'-DRUNTIME_BASE_VERSION="{version}"', f"-I{RUNTIME_SRC / 'include'}"]


def unpacked_runtime(pipeline: dict, rid: str = "linux-x64") -> Path:
    """The unpacked package the pipeline's apps were linked against."""
    return pipeline["build"] / rid / "apps" / "runtime"
