"""Pieces of the package stage that need no compiler: epoch, checksums, ABI hash, schemas."""

from __future__ import annotations

import json

import pytest

from ci.core import schemas
from ci.core.errors import CiError, InputError
from ci.redist.checksums import read_sums, write_sums
from ci.redist.manifest import abi_hash
from ci.redist.package import source_date_epoch
from ci.runtime.output import BuildOutput, Source


def _build(tmp_path, epoch):
    return BuildOutput(root=tmp_path, name="Runtime.Base", version="1.0", rid="linux-x64", configuration="Release",
                       source=Source("reference", None, False, epoch), library="lib/x.so")


def test_epoch_from_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234")
    assert source_date_epoch(_build(tmp_path, 99)) == 1234


def test_epoch_defaults_to_last_commit_time(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert source_date_epoch(_build(tmp_path, 99)) == 99


@pytest.mark.parametrize("value", ["-5", "soon", "1.5"])
def test_bad_epoch_is_refused(tmp_path, monkeypatch, value):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    with pytest.raises(CiError, match="SOURCE_DATE_EPOCH"):
        source_date_epoch(_build(tmp_path, 99))


def test_no_epoch_outside_git_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    with pytest.raises(CiError, match="set SOURCE_DATE_EPOCH"):
        source_date_epoch(_build(tmp_path, None))


def test_abi_hash_changes_with_exports_only():
    one = [{"name": "A", "kind": "function"}, {"name": "B", "kind": "data"}]
    assert abi_hash(one) == abi_hash(list(reversed(one)))
    assert abi_hash(one) != abi_hash(one[:1])
    assert abi_hash(one) != abi_hash([{"name": "A", "kind": "data"}, {"name": "B", "kind": "data"}])


def test_sums_round_trip_in_coreutils_format(tmp_path):
    (tmp_path / "b.tar.gz").write_bytes(b"b")
    (tmp_path / "a.zip").write_bytes(b"a")
    path = write_sums(tmp_path, ["b.tar.gz", "a.zip"])
    lines = path.read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == ["a.zip", "b.tar.gz"]
    assert read_sums(path) == {"a.zip": lines[0][:64], "b.tar.gz": lines[1][:64]}


def test_malformed_sums_line_is_named(tmp_path):
    path = tmp_path / "SHA256SUMS"
    path.write_text("nothex  file\n")
    with pytest.raises(InputError, match="line 1"):
        read_sums(path)


def test_manifest_schema_rejects_escaping_paths(tmp_path):
    manifest = {"schema_version": 1, "name": "Runtime.Base", "version": "1.0", "rid": "linux-x64",
                "source": {"kind": "reference", "commit": None, "dirty": False}, "source_date_epoch": 0,
                "configuration": "Release", "library": "lib/x.so", "link": ["lib/x.so"], "include": [],
                "soname": "x.so", "major": 1, "links": [],
                "floor": {"glibc": "2.34", "dlls": {}, "declared": {"glibc": "2.36", "dlls": []}}, "build_id": "ab", "exports": [{"name": "f", "kind": "function"}],
                "abi_hash": "0" * 64, "files": [], "symbols": {"archive": "s.tar.gz", "files": []}}
    schemas.validate("manifest", manifest, "m.json")
    for bad in ("../x.so", "/abs/x.so", "C:/x.so", "lib/../x.so", "lib\\x.so"):
        broken = json.loads(json.dumps(manifest))
        broken["library"] = bad
        with pytest.raises(InputError, match=r"m.json: fails manifest schema at library"):
            schemas.validate("manifest", broken, "m.json")
