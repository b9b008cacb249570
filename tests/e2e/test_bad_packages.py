"""Packages that must be refused before anything is linked against them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import REPO, assert_one_line_error, run_ci
from tests.hostile import encrypted_zip

RID = "linux-x64"


def _repack(source, dest, edit) -> None:
    """Copy a package archive, letting `edit(name, data)` change or drop (None) members."""
    with tarfile.open(source) as src, tarfile.open(dest, "w:gz") as out:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if data is not None:
                data = edit(member.name, data)
                if data is None:
                    continue
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)


def _package(pipeline):
    return pipeline["dist"] / f"runtime-base-10.0.0-ref.1-{RID}.tar.gz"


def test_archive_escaping_the_target_is_refused(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    out = tmp_path / "apps"
    assert_one_line_error(run_ci("apps", "--package", evil, "--out", out), str(evil), "../outside.txt")
    assert not (tmp_path / "outside.txt").exists()
    assert not (out / "runtime").exists()


def test_manifest_failing_its_schema_is_refused(pipeline, tmp_path):
    broken = tmp_path / f"runtime-base-10.0.0-ref.1-{RID}.tar.gz"

    def drop_abi_hash(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        del manifest["abi_hash"]
        return json.dumps(manifest).encode()

    _repack(_package(pipeline), broken, drop_abi_hash)
    done = run_ci("apps", "--package", broken, "--out", tmp_path / "apps")
    assert_one_line_error(done, "manifest.json", "fails manifest schema", "abi_hash")


def test_file_not_matching_its_manifest_is_refused(pipeline, tmp_path):
    tampered = tmp_path / f"runtime-base-10.0.0-ref.1-{RID}.tar.gz"
    _repack(_package(pipeline), tampered,
            lambda name, data: data.replace(b"e", b"E", 1) if name.endswith(".h") else data)  # same size
    done = run_ci("apps", "--package", tampered, "--out", tmp_path / "apps")
    assert_one_line_error(done, str(tampered), "include/RuntimeBase.h", "sha256")


def test_file_of_another_size_than_listed_is_refused_before_it_is_written(pipeline, tmp_path):
    grown = tmp_path / f"runtime-base-10.0.0-ref.1-{RID}.tar.gz"
    _repack(_package(pipeline), grown, lambda name, data: data + b"\0" * 4096 if name.endswith(".h") else data)
    done = run_ci("apps", "--package", grown, "--out", tmp_path / "apps")
    assert_one_line_error(done, str(grown), "include/RuntimeBase.h", "bytes, but manifest.json says")
    assert not (tmp_path / "apps").exists()


def _edit_manifest(pipeline, tmp_path, edit_text):
    broken = tmp_path / f"runtime-base-10.0.0-ref.1-{RID}.tar.gz"
    _repack(_package(pipeline), broken,
            lambda name, data: edit_text(data.decode()).encode() if name == "manifest.json" else data)
    return broken


@pytest.mark.parametrize("edit, why", [
    (lambda t: t.replace('"library": "lib/libRuntime.Base.so.10.0.0"', '"library": "lib/libOther.so"'),
     "its library 'lib/libOther.so' is not among its files"),
    (lambda t: t.replace(f'"rid": "{RID}"', f'"rid": "{RID}", "rid": "win-x64"'), "duplicate key 'rid'"),
    (lambda t: t.replace(f'"rid": "{RID}"', '"rid": "linux-arm64"'), "is a linux-arm64 package, not linux-x64"),
])
def test_a_manifest_that_contradicts_itself_or_the_platform_is_refused(pipeline, tmp_path, edit, why):
    broken = _edit_manifest(pipeline, tmp_path, edit)
    done = run_ci("apps", "--platform", RID, "--package", broken, "--out", tmp_path / "apps")
    assert_one_line_error(done, str(broken), why)
    assert not (tmp_path / "apps").exists()


def test_a_header_named_as_the_library_is_refused(pipeline, tmp_path):
    """Schema-valid, self-consistent, every file matching its hash: only reading the library shows it is none."""
    broken = _edit_manifest(pipeline, tmp_path, lambda t: t.replace('"library": "lib/libRuntime.Base.so.10.0.0"',
                                                                    '"library": "include/RuntimeBase.h"'))
    done = run_ci("apps", "--platform", RID, "--package", broken, "--out", tmp_path / "apps")
    assert_one_line_error(done, str(broken), "its library include/RuntimeBase.h", "not an ELF or PE binary")
    assert not (tmp_path / "apps").exists()


def test_a_zip_of_encrypted_entries_is_refused(pipeline, tmp_path):
    locked = tmp_path / f"runtime-base-10.0.0-ref.1-{RID}.zip"
    encrypted_zip(_package(pipeline), locked)
    done = run_ci("apps", "--platform", RID, "--package", locked, "--out", tmp_path / "apps")
    assert_one_line_error(done, str(locked), "manifest.json", "is encrypted; refused")
    assert not (tmp_path / "apps").exists()


def test_thousands_of_members_before_the_manifest_are_refused_without_unpacking(pipeline, tmp_path):
    crowded = tmp_path / f"runtime-base-10.0.0-ref.1-{RID}.tar.gz"
    with tarfile.open(_package(pipeline)) as src, tarfile.open(crowded, "w:gz") as out:
        for i in range(12_000):
            out.addfile(tarfile.TarInfo(f"junk/{i}"), io.BytesIO(b""))
        for member in src.getmembers():
            out.addfile(member, src.extractfile(member) if member.isfile() else None)
    done = run_ci("apps", "--package", crowded, "--out", tmp_path / "apps")
    assert_one_line_error(done, str(crowded), "more than 10000 members")
    assert not (tmp_path / "apps").exists()


@pytest.mark.parametrize("kind, why", [
    ("missing", "missing"), ("directory", "is a directory"), ("fifo", "is a FIFO"), ("dev-zero", "is a device"),
    ("unreadable", "cannot read: Input/output error")])
def test_a_package_that_is_not_a_file_is_one_line_without_hanging(tmp_path, kind, why):
    package = {"missing": tmp_path / "nope.tar.gz", "directory": tmp_path, "fifo": tmp_path / "pipe.tar.gz",
               "dev-zero": Path("/dev/zero"),
               "unreadable": Path("/proc/self/mem")}[kind]  # a regular file whose read fails, even for root
    if kind == "fifo":
        os.mkfifo(package)
    argv = [sys.executable, "-m", "ci", "apps", "--package", str(package), "--out", str(tmp_path / "apps")]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)  # a hang fails here
    assert_one_line_error(done, str(package), why)


def test_an_unknown_platform_is_bad_input(tmp_path):
    done = run_ci("pipeline", "--platform", "bogus", "--dist", tmp_path / "dist")
    assert_one_line_error(done, "unknown platform 'bogus'", code=2)
