"""The one link our archives carry (the ELF dev link): written reproducibly, extracted only as a
link to a file beside it."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from ci.core.errors import InputError
from ci.redist.archive import Symlink, safe_extract, write_tar_gz, write_zip


def _library(tmp_path: Path) -> Path:
    path = tmp_path / "libx.so.3"
    path.write_bytes(b"\x7fELF library")
    return path


def test_dev_link_is_a_reproducible_tar_symlink_that_extracts_as_one(tmp_path):
    entries = {"lib/libx.so": Symlink("libx.so.3"), "lib/libx.so.3": _library(tmp_path)}
    write_tar_gz(tmp_path / "a.tar.gz", entries, 1_700_000_000)
    os.utime(tmp_path / "libx.so.3", (0, 0))
    write_tar_gz(tmp_path / "b.tar.gz", dict(reversed(entries.items())), 1_700_000_000)
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    assert safe_extract(tmp_path / "a.tar.gz", tmp_path / "out") == ["lib", "lib/libx.so", "lib/libx.so.3"]
    link = tmp_path / "out/lib/libx.so"
    assert link.is_symlink() and os.readlink(link) == "libx.so.3" and link.read_bytes() == b"\x7fELF library"


@pytest.mark.parametrize("target", ["../libx.so.3", "missing.so"])
def test_a_link_to_anything_but_a_file_beside_it_is_not_written(tmp_path, target):
    with pytest.raises(InputError, match="which is no file beside it"):
        write_tar_gz(tmp_path / "a.tar.gz", {"lib/libx.so": Symlink(target), "lib/libx.so.3": _library(tmp_path)}, 0)
    assert not (tmp_path / "a.tar.gz").exists()


def test_zip_carries_no_links(tmp_path):
    with pytest.raises(InputError, match="a zip carries no links"):
        write_zip(tmp_path / "a.zip", {"lib/libx.so": Symlink("libx.so.3"), "lib/libx.so.3": _library(tmp_path)}, 0)


def test_a_sibling_link_to_a_missing_member_is_refused_and_nothing_extracted(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("lib/libx.so")
        info.type, info.linkname = tarfile.SYMTYPE, "libx.so.3"
        tar.addfile(info)
    (tmp_path / "bad.tar").write_bytes(buffer.getvalue())
    with pytest.raises(InputError, match=r"'lib/libx.so': is a symlink to 'libx.so.3', which is no file beside it"):
        safe_extract(tmp_path / "bad.tar", tmp_path / "out")
    assert not (tmp_path / "out").exists()
