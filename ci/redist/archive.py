"""Byte-reproducible .tar.gz/.zip packages, and extraction of archives we do not trust.

Archive names are relative POSIX paths ("lib/libRuntime.Base.so"). Writers store only the
name, the contents, an executable bit and the given mtime, so the bytes do not depend on the
machine, the umask, the time zone, the locale or the order the files were made. The one link kind
(tar only) points at a file beside it: the ELF dev link. The extractor
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
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from ci.core.errors import InputError
from ci.core.fs import NAME_MAX, atomic_output, copy_stream, open_regular, os_error, sha256_file
from ci.redist.pgzip import ParallelDeflate, ParallelGzipWriter

_CHUNK = 1 << 20
_TRAILING_MAX = 1 << 20  # GNU tar pads to 10 KiB records
#: Deflate level 6: on 126 MB of real binaries level 9 took 2.9x as long for 0.8 % less size
#: (gzip -6: 5.3 s, 35.13 MB; gzip -9: 15.1 s, 34.85 MB; on this project's 2-core machine).
LEVEL = 6
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


@dataclass(frozen=True)
class Symlink:
    """A member that links to a file beside it (the ELF dev link libX.so -> libX.so.N); tar only."""

    target: str  # a plain file name in the same directory


Entry = Path | Symlink
_LINK_MODE = 0o777


def normalized_mode(path: Path) -> int:
    """The mode a file gets in our archives: only the owner's executable bit survives."""
    return _mode_of(os.stat(path).st_mode)


def _mode_of(st_mode: int) -> int:
    return _EXEC_MODE if st_mode & stat.S_IXUSR else _FILE_MODE


def deflate_implementation() -> dict:
    """Which deflate wrote the bytes: another zlib (or zlib-ng) may compress the same input to
    other bytes, so the manifest records it and crosscheck names it when packages differ."""
    version = zlib.ZLIB_RUNTIME_VERSION
    return {"format": "deflate", "level": LEVEL, "library": "zlib-ng" if "ng" in version.lower() else "zlib",
            "version": version}


class _HashingWriter:
    """A write-only file that hashes what passes through: the archive's sha256 without reading it back."""

    def __init__(self, out: BinaryIO):
        self.out, self.digest = out, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()


def write_tar_gz(dest: Path, entries: Mapping[str, Entry], mtime: int, first: str | None = None,
                 level: int = LEVEL) -> str:
    """Write `entries` (archive name -> source file) as a reproducible .tar.gz at `dest`; its sha256.
    `first`: a member that goes before all others (the manifest, so readers find it at once)."""
    dest = Path(dest)
    layout = _layout(dest, entries, mtime, first)
    with atomic_output(dest) as out:
        hashing = _HashingWriter(out)
        # Deflated on every core, the same bytes whatever their number (see pgzip).
        # GNU format: long names go in ././@LongLink records, and there are no PAX headers
        # (which would carry atime/ctime). utf-8 explicitly, whatever the locale says.
        with ParallelGzipWriter(hashing, level) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8") as tar:
            for name, source in layout:
                _add_tar_member(tar, name, source, mtime)
    return hashing.digest.hexdigest()


def write_zip(dest: Path, entries: Mapping[str, Path], mtime: int, first: str | None = None,
              level: int = LEVEL) -> str:
    """Write `entries` (archive name -> source file) as a reproducible .zip at `dest`; its sha256."""
    dest = Path(dest)
    if links := sorted(name for name, source in entries.items() if isinstance(source, Symlink)):
        raise InputError(dest, f"archive name {links[0]!r}: a zip carries no links")
    layout = _layout(dest, entries, mtime, first)
    date_time = _dos_date_time(mtime)
    # The output is seekable, so zipfile patches sizes/CRC into the local headers and
    # writes no data descriptors. (That seeking is why a zip is hashed after, not while, writing.)
    with atomic_output(dest) as out, zipfile.ZipFile(out, mode="w") as zf:
        for name, source in layout:
            _add_zip_member(zf, name, source, date_time, level)
    return sha256_file(dest)


def _layout(dest: Path, entries: Mapping[str, Entry], mtime: int, first: str | None) -> list[tuple[str, Entry | None]]:
    """Checked (name, source) pairs in archive order, parent directories added (source None)."""
    if type(mtime) is not int or mtime < 0:
        raise InputError(dest, f"mtime must be a non-negative integer (SOURCE_DATE_EPOCH): {mtime!r}")
    for name in entries:
        if problem := _name_problem(name):
            raise InputError(dest, f"archive name {name!r}: {problem}")
    dirs = {"/".join(parts[:i]) for parts in map(_split, entries) for i in range(1, len(parts))}
    if clash := sorted(dirs.intersection(entries)):
        raise InputError(dest, f"archive name {clash[0]!r} is both a file and a directory")
    for name, source in entries.items():
        if isinstance(source, Symlink) and (not _is_sibling_name(source.target) or
                                            isinstance(entries.get(_sibling(name, source.target), source), Symlink)):
            raise InputError(dest, f"archive name {name!r}: links to {source.target!r}, which is no file beside it")
    layout = dict.fromkeys(dirs) | {name: source if isinstance(source, Symlink) else Path(source)
                                    for name, source in entries.items()}
    # Sorted component by component (like GNU tar --sort=name): a directory comes right
    # before its contents, and each directory's contents stay together. `first` before all.
    return sorted(layout.items(), key=lambda item: (item[0] != first, _split(item[0])))


@contextlib.contextmanager
def _open_source(source: Path) -> Iterator[tuple[BinaryIO, int, int]]:
    """Open a regular source file; yield it, its size and its normalized archive mode."""
    try:
        kind = _file_type(os.lstat(source).st_mode)  # lstat: a symlink is refused, not followed
        if kind != "regular file":
            raise InputError(source, f"is a {kind}; only regular files can be archived")
        data = open(source, "rb")  # noqa: SIM115  (entered below: open's error is told apart)
    except OSError as exc:
        raise InputError(source, f"cannot read source file: {exc.strerror}") from None
    with data:
        st = os.fstat(data.fileno())
        yield data, st.st_size, _mode_of(st.st_mode)


def _add_tar_member(tar: tarfile.TarFile, name: str, source: Entry | None, mtime: int) -> None:
    """Append one member whose header holds nothing from the filesystem but the exec bit."""
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
    if source is None:
        info.type, info.mode = tarfile.DIRTYPE, _DIR_MODE
        tar.addfile(info)
        return
    if isinstance(source, Symlink):
        info.type, info.mode, info.linkname = tarfile.SYMTYPE, _LINK_MODE, source.target
        tar.addfile(info)
        return
    with _open_source(source) as (data, size, mode):
        info.size, info.mode = size, mode
        tar.addfile(info, data)


def _add_zip_member(
    zf: zipfile.ZipFile, name: str, source: Path | None, date_time: tuple[int, ...], level: int
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
        info._compresslevel = level  # private in 3.11, but what ZipFile.open(info, "w") reads
        info.file_size = size  # lets zipfile choose ZIP64 up front, from the size alone
        with zf.open(info, mode="w") as out:
            if hasattr(out, "_compressor"):  # zipfile's deflater (private since 3.x): ours uses every core
                out._compressor = ParallelDeflate(level)
            copy_stream(data, out)


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


@dataclass(frozen=True)
class Limits:
    """What an archive may hold before extraction refuses it: checked from each member's header,
    before a byte of it is written, so a bomb or a hostile header costs nothing but the check."""

    members: int = 100_000  # a source snapshot with its .git; a package's own limits are far lower
    member_bytes: int = 2 << 30
    total_bytes: int = 4 << 30
    #: Bytes written per byte of archive; deflate cannot exceed ~1032, real binaries reach ~20.
    expansion: int = 200
    #: Always allowed, whatever the expansion: small archives of zeros are not bombs.
    expansion_floor: int = 64 << 20
    name_bytes: int = 1024
    depth: int = 32
    #: GNU long-name and PAX headers: tarfile reads them whole into memory.
    header_bytes: int = 64 << 10


#: Called with (name, size, is_dir) for every member before it is written; returns a problem or None.
Accept = Callable[[str, int, bool], "str | None"]


class _OverLimit(Exception):
    """A member refused from its header (raised inside tarfile's header parsing)."""


class _CappedTarInfo(tarfile.TarInfo):
    """TarInfo that refuses sparse members and oversized long-name/PAX headers before tarfile
    reads them (it would read a 512 MiB long-name header into memory)."""

    header_bytes = Limits.header_bytes

    def _proc_member(self, tar):  # tarfile's hook for every header
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _OverLimit(f"member {self.name!r}: is a GNU sparse file; refused")
        if self.type in _LONG_HEADERS and self.size > self.header_bytes:
            raise _OverLimit(f"a long-name or PAX header of {self.size} bytes (limit {self.header_bytes}); refused")
        return super()._proc_member(tar)


_LONG_HEADERS = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                 tarfile.SOLARIS_XHDTYPE)


class _Budget:
    """Counts members and bytes against the limits, from the headers, before anything is written."""

    def __init__(self, archive: Path, limits: Limits, accept: Accept | None):
        self.archive, self.limits, self.accept = archive, limits, accept
        self.members = self.total = 0
        size = os.stat(archive).st_size
        self.most = min(limits.total_bytes, max(limits.expansion_floor, limits.expansion * size))

    def admit(self, name: str, size: int, is_dir: bool) -> None:
        limits = self.limits
        self.members += 1
        if self.members > limits.members:
            raise _refused(self.archive, name, f"more than {limits.members} members; refused")
        raw = name.encode("utf-8", "surrogateescape")
        if len(raw) > limits.name_bytes or any(len(part) > NAME_MAX for part in raw.split(b"/")):
            raise _refused(self.archive, name[:100] + "...", f"name of {len(raw)} bytes is over the limits "
                           f"({limits.name_bytes} per name, {NAME_MAX} per component); refused")
        if name.count("/") >= limits.depth:
            raise _refused(self.archive, name[:100] + "...", f"nested over {limits.depth} levels deep; refused")
        if size > limits.member_bytes:
            raise _refused(self.archive, name, f"{size} bytes, over the limit of {limits.member_bytes}; refused")
        self.total += size
        if self.total > self.most:
            raise InputError(self.archive, f"would unpack to over {self.most} bytes (limit for this archive: "
                             f"{limits.expansion}x its size, at most {limits.total_bytes}); refused as a bomb")
        if self.accept and (problem := self.accept(name, size, is_dir)):
            raise _refused(self.archive, name, f"{problem}; refused")


def safe_extract(archive: Path, dest: Path, limits: Limits = Limits(), accept: Accept | None = None) -> list[str]:
    """Unpack a .tar, .tar.gz or .zip (told apart by content) into `dest`; sorted member names."""
    return sorted(extract(archive, dest, limits, accept))


def extract(archive: Path, dest: Path, limits: Limits = Limits(), accept: Accept | None = None,
            durable: bool = False) -> dict[str, str | None]:
    """Unpack `archive` into `dest`: member name -> sha256 of what was written (None for a directory),
    hashed while writing so no file is read twice.

    `dest` must not exist or be an empty directory. Links, devices, sparse files, absolute or
    escaping names, duplicates, and members over `limits` or refused by `accept` are refused with an
    InputError before they are written, and then nothing appears at `dest`. `durable`: fsync each file.
    """
    archive, dest = Path(archive), Path(dest)
    check_extract_dest(dest)
    kind = _archive_kind(archive)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        root = tempfile.mkdtemp(prefix=f".{dest.name[:200]}.", suffix=".partial", dir=dest.parent)
    except OSError as exc:
        raise os_error(dest, exc, "cannot extract") from None
    root = Path(os.path.realpath(root))  # _target compares real paths against it
    budget = _Budget(archive, limits, accept)
    try:
        with _reading(archive):
            if kind == "zip":
                written = _extract_zip(archive, root, budget, durable)
            else:
                written = _extract_tar(archive, root, budget, durable, gzipped=kind == "tar.gz")
        _publish(root, dest)
    except BaseException as exc:
        shutil.rmtree(root, ignore_errors=True)
        if isinstance(exc, OSError):
            raise os_error(dest, exc, "cannot extract") from None
        raise
    return written


def read_member(archive: Path, name: str, limit: int, limits: Limits = Limits()) -> bytes | None:
    """One member's bytes (at most `limit`), read before anything is extracted; None if absent.
    A tar is scanned up to that member, under `limits`."""
    archive = Path(archive)
    kind = _archive_kind(archive)
    budget = _Budget(archive, limits, None)
    with _reading(archive):
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():  # zipfile raises RuntimeError on opening one: name it first
                    if info.flag_bits & _ZIP_ENCRYPTED:
                        raise _refused(archive, info.filename, "is encrypted; refused")
                try:
                    info = zf.getinfo(name)
                except KeyError:
                    return None
                return _read_capped(archive, name, zf.open(info), info.file_size, limit)
        with _tar_stream(archive, kind == "tar.gz") as (tar, _):
            seen: set[str] = set()
            for member in tar:
                _check_name(archive, member.name, seen)  # a hostile archive is named as such, not as manifest-less
                seen.add(member.name)
                budget.admit(member.name, member.size, member.isdir())
                if member.name == name and member.isreg():
                    return _read_capped(archive, name, tar.extractfile(member), member.size, limit)
    return None


def _read_capped(archive: Path, name: str, data: IO[bytes], size: int, limit: int) -> bytes:
    if size > limit:
        raise _refused(archive, name, f"{size} bytes, over the limit of {limit}")
    with data:
        return data.read(limit)


def check_extract_dest(dest: Path) -> None:
    """`dest` may be missing or an empty real directory: we never merge into existing files."""
    if os.path.lexists(dest) and (dest.is_symlink() or not dest.is_dir() or any(dest.iterdir())):
        raise InputError(dest, "extraction target already exists and is not an empty directory")


def _archive_kind(archive: Path) -> str:
    """'tar.gz', 'zip' or 'tar', from the bytes: the file name may lie."""
    try:
        with open_regular(archive, "archive") as f:
            magic = f.read(4)
            if magic[:2] == b"\x1f\x8b":
                return "tar.gz"
            if magic in (b"PK\x03\x04", b"PK\x05\x06"):  # first entry, or an empty zip
                return "zip"
            f.seek(0)
            with tarfile.open(fileobj=f, mode="r:", tarinfo=_CappedTarInfo):  # reads one header
                return "tar"
    except InputError as exc:
        raise InputError(archive, f"cannot read archive: {exc.problem}") from None
    except OSError as exc:
        raise InputError(archive, f"cannot read archive: {exc.strerror}") from None
    except (tarfile.TarError, _OverLimit):
        raise InputError(archive, "not a .tar, .tar.gz or .zip archive") from None


@contextlib.contextmanager
def _reading(archive: Path) -> Iterator[None]:
    """Turn every way a damaged archive makes tarfile/zipfile/gzip fail into one InputError."""
    try:
        yield
    except _OverLimit as exc:
        raise InputError(archive, str(exc)) from None
    except _CORRUPT as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__  # keep the message on one line
        raise InputError(archive, f"corrupt, truncated or unsupported archive ({detail})") from None


@contextlib.contextmanager
def _tar_stream(archive: Path, gzipped: bool) -> Iterator[tuple[tarfile.TarFile, IO[bytes]]]:
    with open(archive, "rb") as raw, (gzip.GzipFile(fileobj=raw) if gzipped else raw) as stream, \
            tarfile.open(fileobj=stream, mode="r:", tarinfo=_CappedTarInfo) as tar:
        yield tar, stream


def _extract_tar(archive: Path, root: Path, budget: _Budget, durable: bool, gzipped: bool) -> dict[str, str | None]:
    """Check and write each tar member in one pass over the (possibly gzipped) stream."""
    written: dict[str, str | None] = {}
    links: dict[str, str] = {}
    with _tar_stream(archive, gzipped) as (tar, stream):
        for member in tar:
            _check_name(archive, member.name, written)
            _check_tar_type(archive, member)
            if member.sparse is not None:  # PAX-encoded sparse map
                raise _refused(archive, member.name, "is a sparse file; refused")
            budget.admit(member.name, member.size, member.isdir())
            _data_filter(archive, member, root)
            if member.issym():
                links[member.name] = member.linkname  # made last: its target may come later
                written[member.name] = None
            elif member.isdir():
                _make_dirs(archive, member.name, _target(archive, root, member.name))
                written[member.name] = None
            else:
                with tar.extractfile(member) as data:
                    written[member.name] = _write_file(archive, root, member.name, data,
                                                       bool(member.mode & stat.S_IXUSR), durable)
        # Read on to the gzip trailer: a cut or bad CRC after the tar end marker shows only here.
        # Only padding belongs there: a bomb hidden after the end marker is not inflated for long.
        trailing = 0
        while chunk := stream.read(_CHUNK):
            trailing += len(chunk)
            if trailing > _TRAILING_MAX:
                raise InputError(archive, f"over {_TRAILING_MAX} bytes after the end of the tar; refused")
    for name, target in sorted(links.items()):
        _make_link(archive, root, name, target)
    return written


def _sibling(name: str, target: str) -> str:
    """The archive name a link's target has: the same directory as the link."""
    return "/".join([*_split(name)[:-1], target])


def _is_sibling_name(target: str) -> bool:
    return bool(target) and "/" not in target and "\\" not in target and target not in (".", "..")


def _make_link(archive: Path, root: Path, name: str, target: str) -> None:
    """A link to a regular file extracted beside it, and nothing else."""
    path = _target(archive, root, name)
    beside = path.parent / target
    if not (beside.is_file() and not beside.is_symlink()):
        raise _refused(archive, name, f"is a symlink to {target!r}, which is no file beside it; refused")
    try:
        os.symlink(target, path)
    except FileExistsError:
        raise _refused(archive, name, "clashes with another member; refused") from None


def _extract_zip(archive: Path, root: Path, budget: _Budget, durable: bool) -> dict[str, str | None]:
    """Check every entry from the central directory first, then write; ZipExtFile checks each CRC
    and never reads past the declared size."""
    written: dict[str, str | None] = {}
    with zipfile.ZipFile(archive) as zf:
        entries = []
        for info in zf.infolist():
            name = info.filename[:-1] if info.is_dir() else info.filename
            _check_name(archive, name, written)
            written[name] = None
            entries.append((info, name, _zip_mode(archive, name, info)))
            budget.admit(name, info.file_size, info.is_dir())
        for info, name, mode in entries:
            if info.is_dir():
                _make_dirs(archive, name, _target(archive, root, name))
            else:
                with zf.open(info) as data:
                    written[name] = _write_file(archive, root, name, data, bool(mode & stat.S_IXUSR), durable)
    return written


def _check_name(archive: Path, name: str, seen: Container[str]) -> None:
    """Refuse a member name that is unsafe or already used."""
    problem = _name_problem(name) or ("duplicate member name" if name in seen else None)
    if problem:
        raise _refused(archive, name, f"{problem}; refused")


def _check_tar_type(archive: Path, member: tarfile.TarInfo) -> None:
    """Regular files, directories and links to a sibling file: other links could point anywhere,
    devices are never data."""
    if member.issym() and _is_sibling_name(member.linkname):
        return
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


def _write_file(archive: Path, root: Path, name: str, data: IO[bytes], executable: bool, durable: bool) -> str:
    """Create a new file (never overwrite) from `data`, mode 0o755 or 0o644; its sha256."""
    target = _target(archive, root, name)
    _make_dirs(archive, name, target.parent)
    try:
        out = open(target, "xb")  # noqa: SIM115  (entered below) exclusive: catches names that alias on case-insensitive disks
    except FileExistsError:
        raise _refused(archive, name, "clashes with another member; refused") from None
    digest = hashlib.sha256()
    with out:
        copy_stream(data, out, digest)
        if durable:
            out.flush()
            os.fsync(out.fileno())
    os.chmod(target, _EXEC_MODE if executable else _FILE_MODE)
    return digest.hexdigest()


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
