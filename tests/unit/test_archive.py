"""ci.archive: byte-reproducible packages, and extraction that refuses anything unsafe."""

from __future__ import annotations

import contextlib
import gzip
import io
import locale
import os
import random
import resource
import stat
import struct
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci.core.errors import InputError
from ci.core.fs import sha256_file
from ci.redist.archive import LEVEL, Limits, extract, read_member, safe_extract, write_tar_gz, write_zip

REPO = Path(__file__).resolve().parents[2]
MTIME = 1_700_000_000  # 2023-11-14 22:13:20 UTC
_RNG = random.Random(1)
_WORDS = [bytes(_RNG.choice(b"abcdefghij") for _ in range(_RNG.randint(2, 9))) for _ in range(300)]
WORDS = b" ".join(_RNG.choice(_WORDS) for _ in range(20000))  # deflates differently at level 6 and 9
LONG = "share/doc/" + "very-long-directory-name-" * 5 + "/notes.txt"  # > 100 bytes: GNU longname

# archive name -> (contents, executable)
TREE: dict[str, tuple[bytes, bool]] = {
    "lib/libRuntime.Base.so": (b"\x7fELF" + bytes(range(256)) * 64, True),
    "lib/libRuntime.Base.so.dbg": (b"debug " * 1000, False),
    "include/runtime/base.h": (b"#pragma once\nint rb_init(void);\n", False),
    "bin/rbtool": (b"#!/bin/sh\necho hi\n", True),
    "README.md": (b"# Runtime.Base\n", False),
    "doc/caf\u00e9.txt": ("d\u00e9j\u00e0 vu\n".encode(), False),
    LONG: (b"long\n", False),
    "share/words.txt": (WORDS, False),
}
EXPECTED_ORDER = [
    "README.md",
    "bin",
    "bin/rbtool",
    "doc",
    "doc/caf\u00e9.txt",
    "include",
    "include/runtime",
    "include/runtime/base.h",
    "lib",
    "lib/libRuntime.Base.so",
    "lib/libRuntime.Base.so.dbg",
    "share",
    "share/doc",
    LONG.rsplit("/", 1)[0],
    LONG,
    "share/words.txt",
]
DIRS = {n for n in EXPECTED_ORDER if n not in TREE}


@contextlib.contextmanager
def environment(umask: int, tz: str, lc_all: str) -> Iterator[None]:
    """Run with another umask, time zone and locale, restoring all three afterwards."""
    saved = {k: os.environ.get(k) for k in ("TZ", "LC_ALL")}
    old_umask = os.umask(umask)
    os.environ.update(TZ=tz, LC_ALL=lc_all)
    time.tzset()
    old_locale = locale.setlocale(locale.LC_ALL)
    with contextlib.suppress(locale.Error):  # the named locale may not be installed here
        locale.setlocale(locale.LC_ALL, "")
    try:
        yield
    finally:
        os.umask(old_umask)
        locale.setlocale(locale.LC_ALL, old_locale)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        time.tzset()


def make_tree(root: Path, order: list[str], file_mtime: int, exec_mode: int) -> dict[str, Path]:
    """Create TREE under root in `order`; returns the entries mapping in that order."""
    entries = {}
    for name in order:
        data, executable = TREE[name]
        path = root.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if executable:
            path.chmod(exec_mode)
        os.utime(path, (file_mtime, file_mtime))
        if hasattr(os, "geteuid") and os.geteuid() == 0 and file_mtime % 2:
            os.chown(path, 1234, 4321)  # other ownership, when we are allowed to set it
        entries[name] = path
    return entries


def build_both(tmp_path: Path, writer, suffix: str) -> tuple[bytes, bytes]:
    with environment(0o022, "UTC", "C"):
        a = make_tree(tmp_path / "a", list(TREE), 1_000_000_000, 0o755)
        writer(tmp_path / f"a{suffix}", a, MTIME)
    with environment(0o002, "Asia/Kolkata", "de_DE.UTF-8"):
        b = make_tree(tmp_path / "b" / "deeper", list(reversed(TREE)), 1_600_000_001, 0o775)
        writer(tmp_path / f"b{suffix}", b, MTIME)
    return (tmp_path / f"a{suffix}").read_bytes(), (tmp_path / f"b{suffix}").read_bytes()


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    return make_tree(tmp_path / "src", list(TREE), 1_234_567_890, 0o755)


# --- reproducibility -------------------------------------------------------------------


@pytest.mark.parametrize(("writer", "suffix"), [(write_tar_gz, ".tar.gz"), (write_zip, ".zip")])
def test_same_bytes_whatever_the_environment(tmp_path: Path, writer, suffix: str) -> None:
    a, b = build_both(tmp_path, writer, suffix)
    assert a == b


def test_same_bytes_from_another_process_and_cwd(tmp_path: Path, tree: dict[str, Path]) -> None:
    write_tar_gz(tmp_path / "here.tar.gz", tree, MTIME)
    write_zip(tmp_path / "here.zip", tree, MTIME)
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        from ci.redist.archive import write_tar_gz, write_zip
        os.umask(0o077)
        names = {list(reversed(TREE))!r}
        entries = {{n: n for n in names}}  # relative to the cwd
        write_tar_gz(__import__("pathlib").Path("there.tar.gz"), entries, {MTIME})
        write_zip(__import__("pathlib").Path("there.zip"), entries, {MTIME})
        """
    )
    env = dict(os.environ, TZ="America/New_York", LC_ALL="C")
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path / "src", env=env, check=True)
    assert (tmp_path / "src/there.tar.gz").read_bytes() == (tmp_path / "here.tar.gz").read_bytes()
    assert (tmp_path / "src/there.zip").read_bytes() == (tmp_path / "here.zip").read_bytes()


# --- what the tar holds ----------------------------------------------------------------


def test_tar_members_are_normalized(tmp_path: Path, tree: dict[str, Path]) -> None:
    out = tmp_path / "pkg.tar.gz"
    write_tar_gz(out, tree, MTIME)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # not mkstemp's 0o600
    with tarfile.open(out, "r:gz") as tf:
        members = tf.getmembers()
        assert tf.pax_headers == {}
        assert [m.name for m in members] == EXPECTED_ORDER
        for m in members:
            assert m.pax_headers == {}
            assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", MTIME)
            if m.name in DIRS:
                assert m.isdir() and m.mode == 0o755
            else:
                assert m.isreg() and m.mode == (0o755 if TREE[m.name][1] else 0o644)
                assert tf.extractfile(m).read() == TREE[m.name][0]


def test_tar_is_gnu_without_pax_records(tmp_path: Path, tree: dict[str, Path]) -> None:
    out = tmp_path / "pkg.tar.gz"
    write_tar_gz(out, tree, MTIME)
    raw = gzip.decompress(out.read_bytes())
    headers = [raw[i : i + 512] for i in range(0, len(raw), 512)]
    types = {h[156:157] for h in headers if h[257:265] == b"ustar  \0"}
    assert types == {b"0", b"5", b"L"}  # files, directories, one GNU longname; no x/g (PAX)


def test_gzip_header_has_no_name_and_no_time(tmp_path: Path, tree: dict[str, Path]) -> None:
    out = tmp_path / "pkg.tar.gz"
    write_tar_gz(out, tree, MTIME)
    head = out.read_bytes()[:10]
    assert head[:3] == b"\x1f\x8b\x08"
    assert head[3] & 0x08 == 0  # no FNAME
    assert head[4:8] == b"\0\0\0\0"  # MTIME
    assert head[8:10] == b"\x00\xff"  # XFL: neither fastest nor best (level 6); OS byte: constant


# --- what the zip holds ----------------------------------------------------------------


def local_header(raw: bytes, info: zipfile.ZipInfo) -> tuple[int, bytes]:
    """(extra field length, compressed data) from an entry's local header."""
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    return extra_len, raw[start : start + info.compress_size]


def deflate(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def test_zip_entries_are_normalized(tmp_path: Path, tree: dict[str, Path]) -> None:
    out = tmp_path / "pkg.zip"
    write_zip(out, tree, MTIME)
    raw = out.read_bytes()
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
        assert zf.comment == b""
        assert [i.filename.rstrip("/") for i in infos] == EXPECTED_ORDER
        for info in infos:
            name = info.filename.rstrip("/")
            extra_len, data = local_header(raw, info)
            assert (info.create_system, info.extra, extra_len, info.comment) == (3, b"", 0, b"")
            assert info.date_time == (2023, 11, 14, 22, 13, 20)
            assert info.flag_bits & 0x08 == 0  # no data descriptor
            if name in DIRS:
                assert info.is_dir()
                assert info.external_attr == (stat.S_IFDIR | 0o755) << 16 | 0x10
            else:
                mode = 0o755 if TREE[name][1] else 0o644
                assert info.external_attr == (stat.S_IFREG | mode) << 16
                assert info.compress_type == zipfile.ZIP_DEFLATED
                assert data == deflate(TREE[name][0], LEVEL)
                assert zf.read(info) == TREE[name][0]
    assert deflate(WORDS, 6) != deflate(WORDS, 9)  # so the level check above means something


@pytest.mark.parametrize(
    ("mtime", "expected"),
    [
        (0, (1980, 1, 1, 0, 0, 0)),
        (315_532_799, (1980, 1, 1, 0, 0, 0)),  # one second before 1980
        (MTIME + 1, (2023, 11, 14, 22, 13, 20)),  # odd second: DOS time has 2 s steps
        (2**40, (2107, 12, 31, 23, 59, 58)),
    ],
)
def test_zip_time_is_utc_and_clamped(tmp_path: Path, mtime: int, expected: tuple[int, ...]) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with environment(0o022, "Pacific/Auckland", "C"):
        write_zip(tmp_path / "t.zip", {"f": tmp_path / "f"}, mtime)
    with zipfile.ZipFile(tmp_path / "t.zip") as zf:
        assert zf.getinfo("f").date_time == expected


# --- bad input and atomic output ---------------------------------------------------------


@pytest.mark.parametrize("writer", [write_tar_gz, write_zip])
def test_failed_write_leaves_nothing(tmp_path: Path, tree: dict[str, Path], writer) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    entries = dict(tree, **{"zzz/missing.so": tmp_path / "nope.so"})  # fails after others are written
    with pytest.raises(InputError, match=r"nope.so"):
        writer(out_dir / "pkg", entries, MTIME)
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("writer", [write_tar_gz, write_zip])
def test_failed_write_keeps_previous_output(tmp_path: Path, tree: dict[str, Path], writer) -> None:
    dest = tmp_path / "pkg"
    dest.write_bytes(b"old")
    with pytest.raises(InputError):
        writer(dest, {"a": tmp_path / "missing"}, MTIME)
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["pkg"]


@pytest.mark.parametrize("kind", ["symlink", "directory", "fifo"])
def test_source_must_be_a_regular_file(tmp_path: Path, tree: dict[str, Path], kind: str) -> None:
    odd = tmp_path / "odd"
    if kind == "symlink":
        odd.symlink_to(tree["README.md"])
    elif kind == "directory":
        odd.mkdir()
    else:
        os.mkfifo(odd)
    with pytest.raises(InputError, match=f"(?i)odd: is a .*{kind[:3]}.*only regular files"):
        write_tar_gz(tmp_path / "p.tar.gz", {"x": odd}, MTIME)
    assert not (tmp_path / "p.tar.gz").exists()


@pytest.mark.parametrize(
    "name", ["/abs", "../x", "a/../b", "a\\b", "a//b", "a/", "./a", "", "C:/x", "c:x", "a\nb"]
)
@pytest.mark.parametrize("writer", [write_tar_gz, write_zip])
def test_bad_archive_names_are_refused(tmp_path: Path, tree: dict[str, Path], writer, name: str) -> None:
    with pytest.raises(InputError, match="archive name") as err:
        writer(tmp_path / "p", {name: tree["README.md"]}, MTIME)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("mtime", [-1, 1.5, "1700000000", True])
def test_bad_mtime_is_refused(tmp_path: Path, tree: dict[str, Path], mtime) -> None:
    with pytest.raises(InputError, match="mtime"):
        write_tar_gz(tmp_path / "p", tree, mtime)


def test_name_both_file_and_directory_is_refused(tmp_path: Path, tree: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="'lib' is both a file and a directory"):
        write_zip(tmp_path / "p", {"lib": tree["README.md"], "lib/x": tree["README.md"]}, MTIME)


def test_sha256_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_file(tmp_path / "f") == abc
    with pytest.raises(InputError, match="missing: missing"):
        sha256_file(tmp_path / "missing")


# --- safe_extract: what it accepts -----------------------------------------------------


@pytest.mark.parametrize("writer", [write_tar_gz, write_zip])
def test_round_trip(tmp_path: Path, tree: dict[str, Path], writer) -> None:
    archive = tmp_path / "pkg.bin"  # kind comes from the content, not the name
    writer(archive, tree, MTIME)
    old = os.umask(0o077)
    try:
        names = safe_extract(archive, tmp_path / "out" / "x")
    finally:
        os.umask(old)
    assert names == sorted(EXPECTED_ORDER)
    out = tmp_path / "out" / "x"
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    for name in EXPECTED_ORDER:
        path = out.joinpath(*name.split("/"))
        if name in DIRS:
            assert path.is_dir() and stat.S_IMODE(path.stat().st_mode) == 0o755
        else:
            assert path.read_bytes() == TREE[name][0]
            assert stat.S_IMODE(path.stat().st_mode) == (0o755 if TREE[name][1] else 0o644)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x"]  # no temp dir left


def test_plain_tar_and_empty_dest_dir(tmp_path: Path) -> None:
    archive = tmp_path / "plain.tar"
    with tarfile.open(archive, "w") as tf:
        add(tf, "a/b.txt", data=b"hello", mode=0o600)
    (tmp_path / "out").mkdir()
    assert safe_extract(archive, tmp_path / "out") == ["a/b.txt"]  # implicit parent: not a member
    path = tmp_path / "out/a/b.txt"
    assert path.read_bytes() == b"hello" and stat.S_IMODE(path.stat().st_mode) == 0o644


def test_dest_must_be_new_or_empty(tmp_path: Path, tree: dict[str, Path]) -> None:
    write_zip(tmp_path / "p.zip", tree, MTIME)
    (tmp_path / "out").mkdir()
    (tmp_path / "out/keep").write_text("mine")
    with pytest.raises(InputError, match="not an empty directory"):
        safe_extract(tmp_path / "p.zip", tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep"]


# --- safe_extract: what it refuses -----------------------------------------------------


def add(tf: tarfile.TarFile, name: str, *, data: bytes = b"", mode: int = 0o644, **attrs) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    for key, value in attrs.items():
        setattr(info, key, value)
    tf.addfile(info, io.BytesIO(data) if info.isreg() else None)


def evil_tar(path: Path, name: str, **attrs) -> None:
    with tarfile.open(path, "w:gz") as tf:
        add(tf, "good.txt", data=b"fine")  # written before the bad member is met
        add(tf, name, **attrs)


def evil_zip(path: Path, name: str, mode: int | None = None, data: bytes = b"x") -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("good.txt", b"fine")
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.create_system, info.external_attr = 3, mode << 16
        zf.writestr(info, data)


SYM = tarfile.SYMTYPE
TAR_CASES = {
    "parent": ("../evil", {}, "'..' component"),
    "absolute": ("/abs/path", {}, "absolute path"),
    "climb": ("a/../../b", {}, "'..' component"),
    "drive": ("C:/evil", {}, "drive letter"),
    "backslash": ("..\\evil", {}, "backslash"),
    "symlink": ("link", {"type": SYM, "linkname": "../../etc"}, "symlink to '../../etc'; links"),
    "abs-symlink": ("link", {"type": SYM, "linkname": "/etc/passwd"}, "symlink to '/etc/passwd'"),
    "hardlink": ("hl", {"type": tarfile.LNKTYPE, "linkname": "../x"}, "hardlink to '../x'; links"),
    "device": ("dev/null", {"type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, "character device"),
    "fifo": ("pipe", {"type": tarfile.FIFOTYPE}, "FIFO"),
    "duplicate": ("good.txt", {}, "duplicate member name"),
}


@pytest.mark.parametrize("case", TAR_CASES)
def test_tar_refusals(tmp_path: Path, case: str) -> None:
    name, attrs, why = TAR_CASES[case]
    archive = tmp_path / "evil.tar.gz"
    evil_tar(archive, name, **attrs)
    assert_refused(tmp_path, archive, name, why)


ZIP_CASES = {
    "backslash": ("..\\evil", None, "backslash"),
    "parent": ("../evil", None, "'..' component"),
    "absolute": ("/abs", None, "absolute path"),
    "drive": ("C:/evil", None, "drive letter"),
    "symlink": ("link", stat.S_IFLNK | 0o777, "symlink (mode 0o120777); links are refused"),
    "fifo": ("pipe", stat.S_IFIFO | 0o644, "FIFO"),
    "dir-mode-on-file": ("fake", stat.S_IFDIR | 0o755, "is a directory"),
    "duplicate": ("good.txt", None, "duplicate member name"),
}


@pytest.mark.parametrize("case", ZIP_CASES)
def test_zip_refusals(tmp_path: Path, case: str) -> None:
    name, mode, why = ZIP_CASES[case]
    archive = tmp_path / "evil.zip"
    with pytest.warns(UserWarning) if case == "duplicate" else contextlib.nullcontext():
        evil_zip(archive, name, mode, data=b"../../etc")
    assert_refused(tmp_path, archive, name, why)


def assert_refused(tmp_path: Path, archive: Path, name: str, why: str) -> None:
    with pytest.raises(InputError) as err:
        safe_extract(archive, tmp_path / "out")
    message = str(err.value)
    assert message.startswith(f"{archive}: member {name!r}: ") and why in message
    assert "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name]  # no dest, no temp dir


# --- safe_extract: damaged or wrong input ------------------------------------------------


def assert_unreadable(tmp_path: Path, archive: Path, why: str) -> None:
    with pytest.raises(InputError, match=why) as err:
        safe_extract(archive, tmp_path / "out")
    assert str(err.value).startswith(f"{archive}: ") and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


@pytest.mark.parametrize("writer", [write_tar_gz, write_zip])
def test_truncated_archive(tmp_path: Path, tree: dict[str, Path], writer) -> None:
    whole = tmp_path / "whole"
    writer(whole, tree, MTIME)
    data = whole.read_bytes()
    (tmp_path / "half").write_bytes(data[: len(data) // 2])
    assert_unreadable(tmp_path, tmp_path / "half", "corrupt, truncated or unsupported")


def test_tar_gz_cut_in_the_trailer(tmp_path: Path, tree: dict[str, Path]) -> None:
    write_tar_gz(tmp_path / "whole", tree, MTIME)
    (tmp_path / "cut").write_bytes((tmp_path / "whole").read_bytes()[:-4])  # gzip ISIZE gone
    assert_unreadable(tmp_path, tmp_path / "cut", "corrupt")


def test_zip_with_bad_crc(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        zf.writestr("f", b"hello world")  # stored: the bytes appear as they are
    raw = (tmp_path / "z.zip").read_bytes().replace(b"hello world", b"HELLO world")
    (tmp_path / "z.zip").write_bytes(raw)
    assert_unreadable(tmp_path, tmp_path / "z.zip", "Bad CRC")


def test_zip_name_that_is_not_utf8(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        zf.writestr("a\u00e9", b"x")  # stored with the UTF-8 flag
    raw = (tmp_path / "z.zip").read_bytes().replace("a\u00e9".encode(), b"a\xff\xfe")
    (tmp_path / "z.zip").write_bytes(raw)
    assert_unreadable(tmp_path, tmp_path / "z.zip", "corrupt")


def test_text_file_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "notes.tar.gz").write_text("just some text\n" * 50)
    assert_unreadable(tmp_path, tmp_path / "notes.tar.gz", "not a .tar, .tar.gz or .zip archive")


def test_missing_archive(tmp_path: Path) -> None:
    assert_unreadable(tmp_path, tmp_path / "missing.zip", "cannot read archive")


# --- safe_extract: bounded work ---------------------------------------------------------


def assert_bounded(tmp_path: Path, archive: Path, why: str, limits: Limits = Limits()) -> None:
    """Refused with one line, nothing written, and no more than a few MiB of memory used."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError, match=why) as err:
        safe_extract(archive, tmp_path / "out", limits)
    assert "\n" not in str(err.value) and str(err.value).startswith(f"{archive}: ")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 << 10  # KiB


def zeros_tar_gz(path: Path, name: str, size: int) -> None:
    """A gzip bomb: `size` zero bytes in one member, compressed about 1000:1."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz:
        info = tarfile.TarInfo(name)
        info.size = size
        gz.write(info.tobuf(tarfile.GNU_FORMAT))
        block = bytes(1 << 20)
        for _ in range(size >> 20):
            gz.write(block)
        gz.write(bytes(1024))  # end of archive


def test_gzip_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    zeros_tar_gz(tmp_path / "bomb.tar.gz", "zeros", 256 << 20)
    assert (tmp_path / "bomb.tar.gz").stat().st_size < 2 << 20
    assert_bounded(tmp_path, tmp_path / "bomb.tar.gz", "refused as a bomb")


def test_zip_bomb_is_refused_from_its_directory(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf, \
            zf.open("zeros", "w", force_zip64=True) as out:
        for _ in range(256):
            out.write(bytes(1 << 20))
    assert_bounded(tmp_path, tmp_path / "bomb.zip", "refused as a bomb")


def test_bomb_after_the_end_of_the_tar_is_not_inflated(tmp_path: Path) -> None:
    zeros_tar_gz(tmp_path / "tail.tar.gz", "small", 0)
    with gzip.open(tmp_path / "tail.tar.gz", "ab", compresslevel=1) as gz:  # a second gzip member of zeros
        for _ in range(64):
            gz.write(bytes(1 << 20))
    assert_bounded(tmp_path, tmp_path / "tail.tar.gz", "bytes after the end of the tar")


def test_member_over_the_size_limit(tmp_path: Path) -> None:
    evil_tar(tmp_path / "big.tar.gz", "big", data=b"x" * 5000)
    assert_bounded(tmp_path, tmp_path / "big.tar.gz", "'big': 5000 bytes, over the limit of 4096",
                   Limits(member_bytes=4096))


def test_too_many_members(tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "many.tar.gz", "w:gz") as tf:
        for i in range(200):
            add(tf, f"f{i}")
    assert_bounded(tmp_path, tmp_path / "many.tar.gz", "more than 100 members", Limits(members=100))


def test_long_name_header_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A 512 MiB GNU long-name header in a small archive: tarfile would read it whole."""
    info = tarfile.TarInfo("././@LongLink")
    info.type, info.size = tarfile.GNUTYPE_LONGNAME, 512 << 20
    with gzip.open(tmp_path / "longname.tar.gz", "wb") as gz:
        gz.write(info.tobuf(tarfile.USTAR_FORMAT) + b"a" * 4096)
    assert_bounded(tmp_path, tmp_path / "longname.tar.gz", "long-name or PAX header of 536870912 bytes")


@pytest.mark.parametrize("fmt, why", [("gnu", "GNU sparse file"), ("pax", "sparse file")])
def test_sparse_members_are_refused(tmp_path: Path, fmt: str, why: str) -> None:
    """GNU tar -S on a 3 GiB hole: a tiny archive that would write gigabytes."""
    hole = tmp_path / "src" / "hole"
    hole.parent.mkdir()
    with open(hole, "wb") as f:
        f.truncate(3 << 30)
    archive = tmp_path / f"sparse-{fmt}.tar.gz"
    subprocess.run(["tar", f"--format={fmt}", "-S", "-czf", archive, "-C", hole.parent, "hole"], check=True)
    assert archive.stat().st_size < 64 << 10
    assert_bounded(tmp_path, archive, why)


@pytest.mark.parametrize("name, why", [
    ("a" * 256, "over the limits"),
    ("/".join(["d"] * 40) + "/f", "nested over 32 levels"),
    ("/".join(["x" * 200] * 8), "over the limits"),
])
def test_names_over_the_limits(tmp_path: Path, name: str, why: str) -> None:
    evil_tar(tmp_path / "names.tar.gz", name, data=b"x")
    assert_bounded(tmp_path, tmp_path / "names.tar.gz", why)


def test_accept_refuses_a_member_before_it_is_written(tmp_path: Path, tree: dict[str, Path]) -> None:
    write_tar_gz(tmp_path / "p.tar.gz", tree, MTIME)
    seen = []

    def accept(name: str, size: int, is_dir: bool) -> str | None:
        seen.append(name)
        return "not wanted" if name == "bin/rbtool" else None

    with pytest.raises(InputError, match="'bin/rbtool': not wanted; refused"):
        safe_extract(tmp_path / "p.tar.gz", tmp_path / "out", accept=accept)
    assert seen == EXPECTED_ORDER[:3] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("writer", [write_tar_gz, write_zip])
def test_first_member_and_read_member(tmp_path: Path, tree: dict[str, Path], writer) -> None:
    digest = writer(tmp_path / "p", tree, MTIME, first="share/words.txt")
    assert digest == sha256_file(tmp_path / "p")  # hashed while written (tar) or once after (zip)
    assert read_member(tmp_path / "p", "share/words.txt", 1 << 20) == WORDS
    assert read_member(tmp_path / "p", "absent", 1 << 20) is None
    with pytest.raises(InputError, match="over the limit of 10"):
        read_member(tmp_path / "p", "share/words.txt", 10)
    names = extract(tmp_path / "p", tmp_path / "out")
    assert next(iter(names)) == "share/words.txt"
    assert names["README.md"] == sha256_file(tmp_path / "out" / "README.md")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_only_a_regular_file_is_an_archive(tmp_path: Path, kind: str) -> None:
    path = {"fifo": tmp_path / "pipe", "dev-zero": Path("/dev/zero"), "directory": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(InputError, match="cannot read archive: is a"):
        safe_extract(path, tmp_path / "out")
