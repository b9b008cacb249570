"""Byte-reproducible .tar.gz/.zip packages, and extraction of archives we do not trust.

Archive names are relative POSIX paths ("lib/libRuntime.Base.so"). Writers store only the
name, the contents, an executable bit and the given mtime, so the bytes do not depend on the
machine, the umask, the time zone, the locale or the order the files were made. The extractor
refuses anything that could land outside its destination, and never leaves half a tree behind.
"""

from __future__ import annotations

import calendar
import contextlib
import gzip
import hashlib
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, BinaryIO

from ci.core.errors import InputError
from ci.core.fs import atomic_output, sha256_file  # noqa: F401  (sha256_file: re-exported)

_CHUNK = 1 << 20
_LEVEL = 9
_DIR_MODE = 0o755
_EXEC_MODE = 0o755
_FILE_MODE = 0o644
_ZIP_UNIX = 3  # "made by" system: Unix, so readers take the mode from external_attr
_ZIP_DOS_DIR = 0x10  # MS-DOS directory attribute, for Windows tools
_ZIP_ENCRYPTED = 0x1
# DOS timestamps run from 1980-01-01 to 2107-12-31 23:59:58, in 2-second steps.
_ZIP_MIN = calendar.timegm((1980, 1, 1, 0, 0, 0))
_ZIP_MAX = calendar.timegm((2107, 12, 31, 23, 59, 58))
_DRIVE = re.compile(r"[A-Za-z]:")
_TAR_SPECIAL = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO",
}
# The ways a damaged or unsupported archive makes the readers fail.
_CORRUPT = (
    tarfile.TarError,
    zipfile.BadZipFile,
    gzip.BadGzipFile,
    EOFError,
    zlib.error,
    NotImplementedError,  # zip compression method zipfile cannot read
    UnicodeDecodeError,  # zip name flagged UTF-8 that is not
)


# --- writing -----------------------------------------------------------------------------


def normalized_mode(path: Path) -> int:
    """The mode a file gets in our archives: only the owner's executable bit survives."""
    return _mode_of(os.stat(path).st_mode)


def _mode_of(st_mode: int) -> int:
    return _EXEC_MODE if st_mode & stat.S_IXUSR else _FILE_MODE


def write_tar_gz(dest: Path, entries: Mapping[str, Path], mtime: int) -> None:
    """Write `entries` (archive name -> source file) as a reproducible .tar.gz at `dest`."""
    dest = Path(dest)
    layout = _layout(dest, entries, mtime)
    with atomic_output(dest) as out:
        # No file name and mtime 0 in the gzip header: it must not record where or when we ran.
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=_LEVEL, mtime=0) as gz:
            # GNU format: long names go in ././@LongLink records, and there are no PAX headers
            # (which would carry atime/ctime). utf-8 explicitly, whatever the locale says.
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8") as tar:
                for name, source in layout:
                    _add_tar_member(tar, name, source, mtime)


def write_zip(dest: Path, entries: Mapping[str, Path], mtime: int) -> None:
    """Write `entries` (archive name -> source file) as a reproducible .zip at `dest`."""
    dest = Path(dest)
    layout = _layout(dest, entries, mtime)
    date_time = _dos_date_time(mtime)
    with atomic_output(dest) as out:
        # The output is seekable, so zipfile patches sizes/CRC into the local headers and
        # writes no data descriptors.
        with zipfile.ZipFile(out, mode="w") as zf:
            for name, source in layout:
                _add_zip_member(zf, name, source, date_time)


def _layout(dest: Path, entries: Mapping[str, Path], mtime: int) -> list[tuple[str, Path | None]]:
    """Checked (name, source) pairs in archive order, parent directories added (source None)."""
    if type(mtime) is not int or mtime < 0:
        raise InputError(dest, f"mtime must be a non-negative integer (SOURCE_DATE_EPOCH): {mtime!r}")
    for name in entries:
        if problem := _name_problem(name):
            raise InputError(dest, f"archive name {name!r}: {problem}")
    dirs = {"/".join(parts[:i]) for parts in map(_split, entries) for i in range(1, len(parts))}
    if clash := sorted(dirs.intersection(entries)):
        raise InputError(dest, f"archive name {clash[0]!r} is both a file and a directory")
    layout = dict.fromkeys(dirs) | {name: Path(source) for name, source in entries.items()}
    # Sorted component by component (like GNU tar --sort=name): a directory comes right
    # before its contents, and each directory's contents stay together.
    return sorted(layout.items(), key=lambda item: _split(item[0]))


@contextlib.contextmanager
def _open_source(source: Path) -> Iterator[tuple[BinaryIO, int, int]]:
    """Open a regular source file; yield it, its size and its normalized archive mode."""
    try:
        kind = _file_type(os.lstat(source).st_mode)  # lstat: a symlink is refused, not followed
        if kind != "regular file":
            raise InputError(source, f"is a {kind}; only regular files can be archived")
        data = open(source, "rb")
    except OSError as exc:
        raise InputError(source, f"cannot read source file: {exc.strerror}") from None
    with data:
        st = os.fstat(data.fileno())
        yield data, st.st_size, _mode_of(st.st_mode)


def _add_tar_member(tar: tarfile.TarFile, name: str, source: Path | None, mtime: int) -> None:
    """Append one member whose header holds nothing from the filesystem but the exec bit."""
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
    if source is None:
        info.type, info.mode = tarfile.DIRTYPE, _DIR_MODE
        tar.addfile(info)
        return
    with _open_source(source) as (data, size, mode):
        info.size, info.mode = size, mode
        tar.addfile(info, data)


def _add_zip_member(
    zf: zipfile.ZipFile, name: str, source: Path | None, date_time: tuple[int, ...]
) -> None:
    """Append one entry from a hand-built ZipInfo (ZipFile.write would copy filesystem metadata)."""
    if source is None:
        info = _zip_info(name + "/", date_time, stat.S_IFDIR | _DIR_MODE)
        info.external_attr |= _ZIP_DOS_DIR
        info.CRC = 0
        zf.mkdir(info)
        return
    with _open_source(source) as (data, size, mode):
        info = _zip_info(name, date_time, stat.S_IFREG | mode)
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = _LEVEL  # private in 3.11, but what ZipFile.open(info, "w") reads
        info.file_size = size  # lets zipfile choose ZIP64 up front, from the size alone
        with zf.open(info, mode="w") as out:
            shutil.copyfileobj(data, out, _CHUNK)


def _zip_info(name: str, date_time: tuple[int, ...], mode: int) -> zipfile.ZipInfo:
    """A ZipInfo with a fixed time, Unix mode bits and no extra fields or comment."""
    info = zipfile.ZipInfo(name, date_time)
    info.create_system = _ZIP_UNIX  # ZipInfo would say 0 (DOS) when run on Windows
    info.external_attr = mode << 16
    return info


def _dos_date_time(mtime: int) -> tuple[int, int, int, int, int, int]:
    """`mtime` as a UTC DOS timestamp: clamped to what zip can store, seconds made even."""
    t = time.gmtime(min(max(mtime, _ZIP_MIN), _ZIP_MAX))
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec - t.tm_sec % 2)


# --- extracting --------------------------------------------------------------------------


def safe_extract(archive: Path, dest: Path) -> list[str]:
    """Unpack a .tar, .tar.gz or .zip (told apart by content) into `dest`; sorted member names.

    `dest` must not exist or be an empty directory. Links, devices, absolute or escaping
    names and duplicates are refused with an InputError, and then nothing appears at `dest`.
    """
    archive, dest = Path(archive), Path(dest)
    check_extract_dest(dest)
    kind = _archive_kind(archive)
    dest.parent.mkdir(parents=True, exist_ok=True)
    root = tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    root = Path(os.path.realpath(root))  # _target compares real paths against it
    try:
        with _reading(archive):
            if kind == "zip":
                names = _extract_zip(archive, root)
            else:
                names = _extract_tar(archive, root, gzipped=kind == "tar.gz")
        _publish(root, dest)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return names


def check_extract_dest(dest: Path) -> None:
    """`dest` may be missing or an empty real directory: we never merge into existing files."""
    if os.path.lexists(dest) and (dest.is_symlink() or not dest.is_dir() or any(dest.iterdir())):
        raise InputError(dest, "extraction target already exists and is not an empty directory")


def _archive_kind(archive: Path) -> str:
    """'tar.gz', 'zip' or 'tar', from the bytes: the file name may lie."""
    try:
        with open(archive, "rb") as f:
            magic = f.read(4)
        if magic[:2] == b"\x1f\x8b":
            return "tar.gz"
        if magic in (b"PK\x03\x04", b"PK\x05\x06"):  # first entry, or an empty zip
            return "zip"
        with tarfile.open(archive, mode="r:"):  # reads one header: plain tar or not
            return "tar"
    except OSError as exc:
        raise InputError(archive, f"cannot read archive: {exc.strerror}") from None
    except tarfile.TarError:
        raise InputError(archive, "not a .tar, .tar.gz or .zip archive") from None


@contextlib.contextmanager
def _reading(archive: Path) -> Iterator[None]:
    """Turn every way a damaged archive makes tarfile/zipfile/gzip fail into one InputError."""
    try:
        yield
    except _CORRUPT as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__  # keep the message on one line
        raise InputError(archive, f"corrupt, truncated or unsupported archive ({detail})") from None


def _extract_tar(archive: Path, root: Path, gzipped: bool) -> list[str]:
    """Check and write each tar member in one pass over the (possibly gzipped) stream."""
    with open(archive, "rb") as raw, (gzip.GzipFile(fileobj=raw) if gzipped else raw) as stream:
        seen: set[str] = set()
        with tarfile.open(fileobj=stream, mode="r:") as tar:
            for member in tar:
                _check_name(archive, member.name, seen)
                _check_tar_type(archive, member)
                _data_filter(archive, member, root)
                if member.isdir():
                    _make_dirs(archive, member.name, _target(archive, root, member.name))
                else:
                    with tar.extractfile(member) as data:
                        _write_file(archive, root, member.name, data, bool(member.mode & stat.S_IXUSR))
        # Read on to the gzip trailer: a cut or bad CRC after the tar end marker shows only here.
        while stream.read(_CHUNK):
            pass
    return sorted(seen)


def _extract_zip(archive: Path, root: Path) -> list[str]:
    """Check and write each zip entry; ZipExtFile verifies every CRC as it reads."""
    seen: set[str] = set()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = info.filename[:-1] if info.is_dir() else info.filename
            _check_name(archive, name, seen)
            mode = _zip_mode(archive, name, info)
            if info.is_dir():
                _make_dirs(archive, name, _target(archive, root, name))
            else:
                with zf.open(info) as data:
                    _write_file(archive, root, name, data, bool(mode & stat.S_IXUSR))
    return sorted(seen)


def _check_name(archive: Path, name: str, seen: set[str]) -> None:
    """Refuse a member name that is unsafe or already used; remember it otherwise."""
    problem = _name_problem(name) or ("duplicate member name" if name in seen else None)
    if problem:
        raise _refused(archive, name, f"{problem}; refused")
    seen.add(name)


def _check_tar_type(archive: Path, member: tarfile.TarInfo) -> None:
    """Only regular files and directories: links could point anywhere, devices are never data."""
    if member.issym() or member.islnk():
        kind = "symlink" if member.issym() else "hardlink"
        raise _refused(archive, member.name, f"is a {kind} to {member.linkname!r}; links are refused")
    if not (member.isreg() or member.isdir()):
        kind = _TAR_SPECIAL.get(member.type, f"member of type {member.type!r}")
        raise _refused(archive, member.name, f"is a {kind}; only files and directories are extracted")


def _data_filter(archive: Path, member: tarfile.TarInfo, root: Path) -> None:
    """A second opinion from tarfile's own 'data' filter (Python >= 3.11.4); ours ran first."""
    data_filter = getattr(tarfile, "data_filter", None)
    if data_filter is None:
        return
    try:
        data_filter(member, str(root))
    except tarfile.FilterError as exc:
        raise _refused(archive, member.name, f"refused by tarfile's data filter ({exc})") from None


def _zip_mode(archive: Path, name: str, info: zipfile.ZipInfo) -> int:
    """The entry's Unix mode, refusing encryption, links and devices, whatever the 'made by' system."""
    if info.flag_bits & _ZIP_ENCRYPTED:
        raise _refused(archive, name, "is encrypted; refused")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise _refused(archive, name, f"is a symlink (mode {mode:#o}); links are refused")
    if stat.S_IFMT(mode) not in (0, stat.S_IFDIR if info.is_dir() else stat.S_IFREG):
        kind = f"{_file_type(mode)} (mode {mode:#o})"
        raise _refused(archive, name, f"is a {kind}; only files and directories are extracted")
    return mode


def _target(archive: Path, root: Path, name: str) -> Path:
    """Where a checked member goes; a last lexical+realpath check that it is inside `root`."""
    target = root.joinpath(*_split(name))
    if os.path.commonpath([os.path.realpath(target), root]) != str(root):
        raise _refused(archive, name, "would land outside the destination; refused")
    return target


def _make_dirs(archive: Path, name: str, path: Path) -> None:
    """mkdir -p, reporting a file already standing in the way as a clash between members."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise _refused(archive, name, "clashes with a file from another member; refused") from None


def _write_file(archive: Path, root: Path, name: str, data: IO[bytes], executable: bool) -> None:
    """Create a new file (never overwrite) from `data`, mode 0o755 or 0o644."""
    target = _target(archive, root, name)
    _make_dirs(archive, name, target.parent)
    try:
        out = open(target, "xb")  # exclusive: catches names that alias on case-insensitive disks
    except FileExistsError:
        raise _refused(archive, name, "clashes with another member; refused") from None
    with out:
        shutil.copyfileobj(data, out, _CHUNK)
    os.chmod(target, _EXEC_MODE if executable else _FILE_MODE)


def _refused(archive: Path, name: str, problem: str) -> InputError:
    """The error for one bad member; repr() keeps odd names (newlines...) on one line."""
    return InputError(archive, f"member {name!r}: {problem}")


def _publish(root: Path, dest: Path) -> None:
    """Give every directory 0o755 (mkdir followed the umask), then move the tree into place."""
    for dirpath, _, _ in os.walk(root):
        os.chmod(dirpath, _DIR_MODE)
    if dest.is_dir():
        dest.rmdir()  # the allowed empty directory: Windows cannot rename onto it
    os.replace(root, dest)


# --- shared ------------------------------------------------------------------------------


def _name_problem(name: object) -> str | None:
    """Why `name` is not a plain relative POSIX path (None if it is one)."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if "\\" in name:
        return "contains a backslash"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains a control character"
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    parts = _split(name)
    if ".." in parts:
        return "has a '..' component"
    if "" in parts or "." in parts:
        return "has an empty or '.' component"
    return None


def _split(name: str) -> list[str]:
    """Components of an archive name: always "/", whatever os.sep is."""
    return name.split("/")


def _file_type(mode: int) -> str:
    """A readable name for the file type in `mode`."""
    for test, kind in (
        (stat.S_ISREG, "regular file"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return kind
    return "file of unknown type"
