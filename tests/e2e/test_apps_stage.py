"""Apps are linked against the unpacked package only: the build tree is not needed."""

from __future__ import annotations

import json
import shutil

from ci.core.fs import sha256_file
from tests.conftest import assert_one_line_error, run_ci

RID = "linux-x64"


def test_deleting_the_build_tree_changes_nothing(pipeline, tmp_path):
    dist = tmp_path / "dist"
    shutil.copytree(pipeline["dist"], dist)
    package = dist / f"runtime-base-10.0.0-ref.1-{RID}.tar.gz"
    # Nothing of the pipeline's build tree is reachable from here: a fresh output directory.
    done = run_ci("apps", "--package", package, "--out", tmp_path / "apps")
    assert done.returncode == 0, done.stderr
    original = json.loads((pipeline["apps"] / "apps.json").read_text())["sha256"]
    rebuilt = json.loads((tmp_path / "apps" / "apps.json").read_text())["sha256"]
    assert rebuilt == original
    assert {p: sha256_file(tmp_path / "apps" / p) for p in rebuilt} == original


def test_apps_find_the_runtime_beside_them_when_moved(pipeline, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(pipeline["apps"], moved, symlinks=True)
    done = run_ci("share", "--apps", moved, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["runtime"] == str((moved / "runtime/lib/libRuntime.Base.so").resolve())


def test_an_output_directory_not_made_here_is_never_deleted(pipeline, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("precious\n")
    package = pipeline["dist"] / f"runtime-base-10.0.0-ref.1-{RID}.tar.gz"
    assert_one_line_error(run_ci("apps", "--package", package, "--out", mine), str(mine), "refusing to replace it")
    assert_one_line_error(run_ci("build", "--out", mine), str(mine), "refusing to replace it")
    assert (mine / "keep.txt").read_text() == "precious\n"


def test_a_failed_rebuild_keeps_the_good_app_set(pipeline, tmp_path):
    out = tmp_path / "apps"
    package = pipeline["dist"] / f"runtime-base-10.0.0-ref.1-{RID}.tar.gz"
    assert run_ci("apps", "--package", package, "--out", out).returncode == 0
    before = {p.relative_to(out): sha256_file(p) for p in out.rglob("*") if p.is_file()}
    damaged = tmp_path / package.name
    damaged.write_bytes(package.read_bytes()[:-100])  # cut: fails while unpacking, after the manifest is read
    assert_one_line_error(run_ci("apps", "--package", damaged, "--out", out), str(damaged), "corrupt")
    assert {p.relative_to(out): sha256_file(p) for p in out.rglob("*") if p.is_file()} == before
    assert run_ci("share", "--apps", out).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [".apps.lock", "apps", package.name]
