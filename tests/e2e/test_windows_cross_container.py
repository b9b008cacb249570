"""win-x64 and win-arm64 as CI builds them: cross-built in the linux-x64 container (Dockerfile
target windows-cross), with the toolchain found inside it, to the same binaries as on this machine."""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from ci.containers import engine
from ci.platforms import get_platform
from tests.conftest import REPO, run_ci

pytestmark = pytest.mark.e2e



def members(archive) -> dict[str, bytes]:
    """Every member but the manifest, which also records the source commit (a git worktree's `.git`
    is a file that the container's snapshot does not carry)."""
    with zipfile.ZipFile(archive) as z:
        return {n: z.read(n) for n in z.namelist() if n != "manifest.json"}


@pytest.mark.parametrize("rid", ["win-x64", "win-arm64"])
def test_windows_cross_built_in_its_build_container_matches_this_machine(rid, tmp_path, monkeypatch):
    platform = get_platform(rid)
    epoch = subprocess.run(["git", "log", "-1", "--format=%ct", "--", "reference/runtime"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.strip()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    assert platform.build_container == "linux-x64" and platform.build_target == "windows-cross"
    code = engine.run_session(get_platform(platform.build_container), "package",
                              ["--platform", rid, "--check", "verify"], dist=tmp_path / "container",
                              target=platform.build_target)
    assert code == 0
    here = run_ci("pipeline", "--platform", rid, "--check", "verify", "--build-dir", tmp_path / "build",
                  "--dist", tmp_path / "host", env={"SOURCE_DATE_EPOCH": epoch})
    assert here.returncode == 0, here.stdout + here.stderr
    for name in (f"runtime-base-{{v}}-{rid}.zip", f"runtime-base-{{v}}-{rid}-symbols.zip"):
        (container_zip,) = (tmp_path / "container").glob(name.format(v="*"))
        host_zip = tmp_path / "host" / container_zip.name
        assert members(container_zip) == members(host_zip)
