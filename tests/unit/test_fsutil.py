"""Outputs appear whole or not at all; JSON and directories are handled with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci.core.epoch import source_date_epoch
from ci.core.errors import CiError, EnvironmentProblem, InputError
from ci.core.fs import (
    OUTPUT_MARKER,
    atomic_write_text,
    built_beside,
    fresh_output_dir,
    os_error,
    read_json,
    read_text,
    sha256_file,
)


@pytest.mark.parametrize("content, problem", [
    (b"\xff\xfe", "not UTF-8 text"),
    (b"[" * 100_000, "not valid JSON"),
    (b"{", "not valid JSON"),
])
def test_bad_json_is_named(tmp_path, content, problem):
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=problem):
        read_json(path)


def test_a_directory_is_not_json(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        read_json(tmp_path)


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_text(target, "old")
    with pytest.raises(AttributeError):
        atomic_write_text(target, None)  # fails inside the write
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_only_our_own_output_directories_are_replaced(tmp_path):
    ours = tmp_path / "ours"
    fresh_output_dir(ours)
    (ours / "stale").write_text("x")
    fresh_output_dir(ours)
    assert sorted(p.name for p in ours.iterdir()) == [OUTPUT_MARKER]
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "keep").write_text("x")
    with pytest.raises(InputError, match="refusing to replace it"):
        fresh_output_dir(theirs)
    assert (theirs / "keep").exists()


def test_epoch_must_be_ascii_digits(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "\u00b2")
    with pytest.raises(CiError, match="non-negative integer"):
        source_date_epoch(1, "x")


@pytest.mark.parametrize("text, problem", [
    ('{"rid": "linux-x64", "rid": "win-x64"}', "duplicate key 'rid'"),
    ('{"a": {"b": 1, "b": 2}}', "duplicate key 'b'"),
    ('{"n": ' + "9" * 5000 + "}", "4300"),
])
def test_json_that_readers_could_disagree_on_is_refused(tmp_path, text, problem):
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as err:
        read_json(path)
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory", "missing"])
def test_only_regular_files_are_read_and_never_whole(tmp_path, kind):
    path = {"fifo": tmp_path / "pipe", "dev-zero": Path("/dev/zero"), "directory": tmp_path,
            "missing": tmp_path / "nope"}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # no writer: a plain open() would wait forever
    why = {"fifo": "is a FIFO", "dev-zero": "is a device", "directory": "is a directory", "missing": "missing"}[kind]
    with pytest.raises(InputError, match=why):
        read_json(path)
    with pytest.raises(InputError, match=why):
        sha256_file(path)


def test_a_text_input_has_a_size_limit(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 2000)
    with pytest.raises(InputError, match="larger than"):
        read_text(path, limit=1000)


@pytest.mark.parametrize("name, why", [
    ("x" * 256, "a name is 256 bytes"),
    ("/".join(["d" * 100] * 45), r"path is \d+ bytes, over the limit of 4096"),
])
def test_names_over_the_file_system_limits_are_one_line(tmp_path, name, why):
    with pytest.raises(InputError, match=why):
        atomic_write_text(tmp_path / name, "x")


def test_a_full_device_is_the_environment_not_the_input():
    with pytest.raises(OSError) as raised, open("/dev/full", "wb", buffering=0) as full:
        full.write(b"x")
    error = os_error("/dev/full", raised.value, "cannot write")
    assert isinstance(error, EnvironmentProblem) and error.exit_code == 3
    assert error.message == "/dev/full: cannot write: no space left on the device (free some and rerun)"


def test_built_beside_keeps_the_old_output_when_the_build_fails(tmp_path):
    out = tmp_path / "out"
    with built_beside(out) as new:
        (new / "good").write_text("1")
    with pytest.raises(RuntimeError), built_beside(out) as new:
        (new / "half").write_text("2")
        raise RuntimeError("link failed")
    assert sorted(p.name for p in out.iterdir()) == [OUTPUT_MARKER, "good"]
    with built_beside(out) as new:
        (new / "better").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == [OUTPUT_MARKER, "better"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing left beside it


def test_built_beside_removes_what_a_killed_run_left(tmp_path):
    (tmp_path / ".out.abc123.partial").mkdir()
    with built_beside(tmp_path / "out"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
