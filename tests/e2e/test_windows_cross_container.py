"""win-arm64 as CI builds it: cross-built in the linux-x64 container (Dockerfile target
windows-cross), with the toolchain found inside it, to the same binaries as on this machine."""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from ci.containers import engine
from ci.platforms import get_platform
from tests.conftest import REPO, run_ci

pytestmark = pytest.mark.e2e

WIN_ARM64 = get_platform("win-arm64")


def members(archive) -> dict[str, bytes]:
    """Every member but the manifest, which also records the source commit (a git worktree's `.git`
    is a file that the container's snapshot does not carry)."""
    with zipfile.ZipFile(archive) as z:
        return {n: z.read(n) for n in z.namelist() if n != "manifest.json"}


def test_win_arm64_cross_built_in_its_build_container_matches_this_machine(tmp_path, monkeypatch):
    epoch = subprocess.run(["git", "log", "-1", "--format=%ct", "--", "reference/runtime"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.strip()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    assert WIN_ARM64.build_container == "linux-x64" and WIN_ARM64.build_target == "windows-cross"
    code = engine.run_session(get_platform(WIN_ARM64.build_container), "package",
                              ["--platform", WIN_ARM64.rid, "--check", "verify"], dist=tmp_path / "container",
                              target=WIN_ARM64.build_target)
    assert code == 0
    here = run_ci("pipeline", "--platform", WIN_ARM64.rid, "--check", "verify", "--build-dir", tmp_path / "build",
                  "--dist", tmp_path / "host", env={"SOURCE_DATE_EPOCH": epoch})
    assert here.returncode == 0, here.stdout + here.stderr
    for name in ("runtime-base-{v}-win-arm64.zip", "runtime-base-{v}-win-arm64-symbols.zip"):
        (container_zip,) = (tmp_path / "container").glob(name.format(v="*"))
        host_zip = tmp_path / "host" / container_zip.name
        assert members(container_zip) == members(host_zip)
