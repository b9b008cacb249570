"""Packages that must be refused before anything is linked against them."""

from __future__ import annotations

import io
import json
import tarfile

from tests.conftest import assert_one_line_error, run_ci

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
