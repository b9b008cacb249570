"""The GitHub Actions workflows: linted, pinned, and fed by the matrix from ci/platforms.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ci.platforms.matrix import matrix
from ci.platforms import PLATFORMS
from tests.conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed (it is part of the test extra)"
    return found


def test_there_are_workflows():
    assert REPO / ".github/workflows/ci.yml" in WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_passes(workflow):
    done = subprocess.run([_tool("actionlint"), str(workflow)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_zizmor_passes(workflow):
    done = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", str(workflow)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha(workflow):
    uses = re.findall(r"uses:\s*([^\s#]+)", workflow.read_text())
    remote = [u for u in uses if not u.startswith("./")]
    assert remote and all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u) for u in remote), remote


def test_the_matrix_comes_from_the_platform_list_not_from_yaml():
    text = (REPO / ".github/workflows/ci.yml").read_text()
    assert not any(rid in text for rid in PLATFORMS)
    assert "nox -s matrix" in text
    rids = [entry["rid"] for entry in matrix()["include"]]
    assert rids == list(PLATFORMS)


def test_matrix_cli_prints_the_same_json():
    done = subprocess.run([sys.executable, "-m", "ci", "matrix"], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == matrix()
