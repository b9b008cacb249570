"""dist/ holds together whenever a run dies, and two runs on one tree take turns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import REPO, assert_one_line_error, run_ci

RID = "linux-x64"
STEM = f"runtime-base-10.0.0-ref.1-{RID}"
NUPKG = f"RuntimeBase.Runtime.{RID}.10.0.0-ref.1.nupkg"  # the NuGet runtime pack, checksummed like the archives


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "runtime"
    done = run_ci("build", "--platform", RID, "--out", out)
    assert done.returncode == 0, done.stderr
    return out


def _package(build: Path, dist: Path, epoch: int, **env: str) -> subprocess.CompletedProcess:
    return run_ci("package", "--build", build, "--dist", dist, env={"SOURCE_DATE_EPOCH": str(epoch), **env})


def _epoch_of_set(dist: Path) -> int:
    """The set's epoch, after checking that it holds together: SHA256SUMS matches every archive it
    lists, and the manifest copy is the archive's own manifest."""
    done = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=dist, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    with tarfile.open(dist / f"{STEM}.tar.gz") as tar:
        inside = tar.extractfile("manifest.json").read()
    assert (dist / f"{STEM}.manifest.json").read_bytes() == inside
    listed = {line.split()[1] for line in (dist / "SHA256SUMS").read_text().splitlines()}
    assert listed == {f"{STEM}.tar.gz", f"{STEM}-symbols.tar.gz", f"{STEM}.cdx.json", NUPKG}
    return json.loads(inside)["source_date_epoch"]


@pytest.mark.parametrize("point", ["archives-written", "dist-staged", "dist-swapped"])
def test_a_run_killed_anywhere_leaves_a_whole_set_and_the_next_run_cleans_up(build, tmp_path, point):
    dist = tmp_path / "dist"
    assert _package(build, dist, 1_000_000_000).returncode == 0
    killed = _package(build, dist, 1_100_000_000, RUNTIME_BASE_CI_KILL_AT=point)
    assert killed.returncode == -9, killed.stderr
    assert _epoch_of_set(dist) == (1_100_000_000 if point == "dist-swapped" else 1_000_000_000)
    done = _package(build, dist, 1_100_000_000)
    assert done.returncode == 0, done.stderr
    assert _epoch_of_set(dist) == 1_100_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dist.lock", "dist"]  # no staged set left
    assert not [p for p in dist.iterdir() if p.name.endswith((".partial", ".staging"))]


HOLD = """
import sys
from pathlib import Path
from ci.core.lock import locked
with locked(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_second_run_waits_for_the_first_and_says_so(build, tmp_path):
    dist = tmp_path / "dist"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, dist], cwd=REPO, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        second = subprocess.Popen([sys.executable, "-m", "ci", "package", "--build", build, "--dist", dist], cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = second.stderr.readline()  # blocks until the second run reports that it waits
        assert line.startswith(f"waiting for another runtime-base-ci run (pid {holder.pid})") and str(dist) in line
        assert second.poll() is None and not dist.exists()
    finally:
        holder.stdin.close()  # the first run ends: its lock goes with it
        holder.wait()
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "packaged" in out
    _epoch_of_set(dist)


def test_two_runs_at_once_both_succeed_and_leave_one_consistent_set(build, tmp_path):
    dist = tmp_path / "dist"
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1200000000"}
    runs = [subprocess.Popen([sys.executable, "-m", "ci", "package", "--build", build, "--dist", dist], cwd=REPO,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    assert _epoch_of_set(dist) == 1_200_000_000


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real file system with 64 KiB of room."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", mount], check=True)


def test_a_full_disk_is_one_line_with_exit_3_and_leaves_nothing(build, small_disk):
    done = run_ci("package", "--build", build, "--dist", small_disk / "dist")
    assert_one_line_error(done, "no space left on the device", code=3)
    assert sorted(p.name for p in small_disk.iterdir()) == [".dist.lock"]


def test_a_dist_that_is_a_mount_point_is_updated_in_place(build, tmp_path):
    """No atomic swap is possible there (nor hard links into it): each file is copied in whole."""
    dist = tmp_path / "dist"
    dist.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dist], check=True)
    try:
        assert _package(build, dist, 1_000_000_000).returncode == 0
        done = _package(build, dist, 1_100_000_000)
        assert done.returncode == 0, done.stderr
        assert _epoch_of_set(dist) == 1_100_000_000
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".staging")]
    finally:
        subprocess.run(["umount", dist], check=True)
