"""Outputs appear whole or not at all; JSON and directories are handled with one-line errors."""

from __future__ import annotations

import pytest

from ci.core.epoch import source_date_epoch
from ci.core.errors import CiError, InputError
from ci.core.fs import OUTPUT_MARKER, atomic_write_text, fresh_output_dir, read_json


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
