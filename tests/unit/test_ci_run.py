"""`.ci/run` installs only what is missing: a package counts as present when dpkg has it or when its
tool is on PATH, and docker.io is installed only where no container engine answers and no daemon
is there to start (a GitHub runner's docker-ce conflicts with it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO

RUN = REPO / ".ci" / "run"


def missing(tmp_path: Path, *tools: str, engine_answers: bool = False) -> list[str]:
    """What `.ci/run --missing` would install on a host whose dpkg knows no package and whose PATH
    has only `tools` (stubs that fail; with `engine_answers`, `docker` succeeds: an engine is
    reachable) and what the script itself needs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("dirname", "grep", "python3"):
        (bin_dir / name).symlink_to(shutil.which(name))
    for name in ("dpkg-query", *tools):
        answers = name == "docker" and engine_answers
        (bin_dir / name).write_text(f"#!/bin/sh\nexit {0 if answers else 1}\n")  # dpkg-query: not installed
        (bin_dir / name).chmod(0o755)
    done = subprocess.run([shutil.which("bash"), str(RUN), "--missing"], env={"PATH": str(bin_dir)},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_runner_with_docker_ce_gets_no_docker_io(tmp_path):
    needed = missing(tmp_path, "docker", "dockerd", "git", "jq")
    assert "docker.io" not in needed
    assert "git" not in needed and "jq" not in needed  # the same tools from elsewhere count
    assert {"gcc", "libc6-dev", "wine64", "abigail-tools", "pigz", "clang"} <= set(needed)


def test_a_host_without_an_engine_gets_docker_io(tmp_path):
    assert "docker.io" in missing(tmp_path)


def test_a_docker_cli_that_reaches_an_engine_is_enough(tmp_path):
    """A docker CLI that talks to a remote or rootless engine: nothing to install over it."""
    assert "docker.io" not in missing(tmp_path, "docker", engine_answers=True)


def test_a_docker_cli_without_an_engine_or_a_daemon_gets_docker_io(tmp_path):
    """A client alone (as some images ship in /usr/local/bin) has nothing to talk to: install the engine."""
    assert "docker.io" in missing(tmp_path, "docker")


def test_this_machine_has_everything():
    done = subprocess.run([str(RUN), "--missing"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr
