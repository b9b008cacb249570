"""The installed wheel works without the checkout: its data and sources travel inside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with only the built wheel (and its dependencies) in it."""
    root = tmp_path_factory.mktemp("wheel")
    # The new venv's own pip builds the wheel too: the test session's venv may have none (uv makes it).
    run(sys.executable, "-m", "venv", root / "venv", cwd=root)
    pip = root / "venv" / "bin" / "pip"
    run(pip, "wheel", "-q", "--no-deps", "-w", root / "wheels", REPO, cwd=root)
    wheel = next((root / "wheels").glob("runtime_base_ci-*.whl"))
    run(pip, "install", "-q", wheel, cwd=root)
    return root


def test_packaging_travels_as_data_inside_ci(installed):
    site = next((installed / "venv" / "lib").glob("python3*/site-packages"))
    assert (site / "ci" / "_packaging" / "manifest.schema.json").is_file()
    assert (site / "packaging" / "version.py").is_file()  # PyPA's, not shadowed by ours


def test_the_command_runs_from_anywhere(installed):
    cli = installed / "venv" / "bin" / "runtime-base-ci"
    assert "pipeline" in run(cli, "--help", cwd=installed).stdout
    assert run(cli, "--version", cwd=installed).stdout.startswith("runtime-base-ci ")
    matrix = json.loads(run(cli, "matrix", cwd=installed).stdout)
    assert {entry["rid"] for entry in matrix["include"]} >= {"linux-x64", "win-x64"}


def test_build_package_and_verify_from_the_wheel_alone(installed):
    """The reference runtime's sources, the export list, the layout and the schemas all come from the wheel."""
    cli = installed / "venv" / "bin" / "runtime-base-ci"
    work = installed / "work"
    work.mkdir()
    # Outside git the sources have no commit time: the user gives the archives' time stamp.
    epoch = {"SOURCE_DATE_EPOCH": "1700000000"}
    run(cli, "build", "--platform", "linux-x64", "--out", work / "runtime", cwd=work, env=epoch)
    run(cli, "package", "--build", work / "runtime", "--dist", work / "dist", cwd=work, env=epoch)
    archive = next((work / "dist").glob("runtime-base-*-linux-x64.tar.gz"))
    run(cli, "apps", "--platform", "linux-x64", "--package", archive, "--out", work / "apps", cwd=work)
    apps = json.loads((work / "apps" / "apps.json").read_text())
    binaries = [work / "apps" / app["path"] for app in apps["apps"]]
    verified = json.loads(run(cli, "verify", "--runtime", work / "apps" / "runtime" / "lib" / "libRuntime.Base.so",
                              *[a for b in binaries for a in ("--app", b)], "--json", cwd=work).stdout)
    assert verified["ok"] and len(verified["apps"]) == len(binaries)
