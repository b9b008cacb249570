"""File-system rules every stage follows: outputs appear whole or not at all, JSON is read
with one-line errors, and an output directory is replaced only if it is ours."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

from ci.core.errors import CiError, EnvironmentProblem, InputError

#: Linux's limits (NAME_MAX, PATH_MAX): names are checked against them before any system call
#: would fail with a less helpful errno.
NAME_MAX = 255
PATH_MAX = 4096
#: JSON and text inputs (manifests, reports, SHA256SUMS) are small; anything larger is not ours.
TEXT_MAX = 64 << 20
_CHUNK = 1 << 20


def os_error(path: str | Path, exc: OSError, doing: str = "cannot access") -> CiError:
    """One line for an OSError: a full disk is the machine's problem (exit 3), the rest the input's."""
    where = Path(exc.filename) if exc.filename else path
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return EnvironmentProblem(f"{where}: {doing}: no space left on the device (free some and rerun)")
    if exc.errno == errno.ENAMETOOLONG:
        return InputError(where, f"{doing}: name too long for the file system")
    return InputError(where, f"{doing}: {exc.strerror or exc}")


def check_name_limits(path: str | Path) -> None:
    """Refuse a path the file system cannot hold (a component over NAME_MAX bytes, the whole over PATH_MAX)."""
    raw = os.fsencode(path)
    if len(raw) > PATH_MAX:
        raise InputError(str(path)[:80] + "...", f"path is {len(raw)} bytes, over the limit of {PATH_MAX}")
    for part in raw.split(b"/"):
        if len(part) > NAME_MAX:
            raise InputError(str(path)[:80] + "...", f"a name is {len(part)} bytes, over the limit of {NAME_MAX}")


@contextlib.contextmanager
def atomic_output(dest: Path) -> Iterator[BinaryIO]:
    """Yield a temp file beside `dest`; it becomes `dest` only if the block completes."""
    check_name_limits(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name[:200]}.", suffix=".partial", dir=dest.parent)
    except OSError as exc:
        raise os_error(dest, exc, "cannot write") from None
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.chmod(tmp, 0o644)  # mkstemp makes 0o600: too private for a package
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise os_error(dest, exc, "cannot write") from None
        raise


def open_regular(path: Path, what: str = "file") -> io.BufferedReader:
    """Open an input for reading, refusing what is not a regular file before reading a byte:
    O_NONBLOCK so a FIFO cannot hang the open, fstat so /dev/zero or a directory is named, not read."""
    nonblock = getattr(os, "O_NONBLOCK", 0)  # POSIX; Windows has no FIFOs to hang on
    try:
        fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise InputError(path, "missing") from None
    except OSError as exc:
        raise os_error(path, exc, "cannot read") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else \
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"
        raise InputError(path, f"is {kind}, not a {what}")
    if nonblock:
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a regular file, streamed: memory stays flat, a FIFO or device is refused unread."""
    with open_regular(path) as f:
        try:
            return hashlib.file_digest(f, "sha256").hexdigest()
        except OSError as exc:
            raise os_error(path, exc, "cannot read") from None


def copy_stream(src: IO[bytes], dst: IO[bytes], *sinks: Hash) -> int:
    """Copy in fixed chunks (memory stays flat whatever the size), feeding each chunk to `sinks`
    (hashes) on the way; the number of bytes copied."""
    total = 0
    while chunk := src.read(_CHUNK):
        dst.write(chunk)
        for sink in sinks:
            sink.update(chunk)
        total += len(chunk)
    return total


def atomic_write_text(dest: Path, text: str) -> None:
    with atomic_output(dest) as out:
        out.write(text.encode("utf-8"))


def read_text(path: Path, limit: int = TEXT_MAX) -> str:
    """A UTF-8 text file's content, or an InputError naming the file and why it cannot be read."""
    with open_regular(path, "text file") as f:
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise os_error(path, exc, "cannot read") from None
    if len(data) > limit:
        raise InputError(path, f"larger than {limit >> 20} MiB: not one of ours")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """object_pairs_hook: a key given twice is refused (readers would disagree on which one counts)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return found


def parse_json(text: str, source: str | Path) -> object:
    """Parsed JSON, or an InputError naming `source`: syntax, duplicate keys, numbers over Python's
    4300-digit limit and nesting too deep all become one line."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError, as is the digit limit
        detail = " ".join(str(exc).split())[:200] or "nested too deeply"
        raise InputError(source, f"not valid JSON ({detail})") from None


def read_json(path: Path) -> object:
    """Parsed JSON, or an InputError naming the file and what is wrong with it."""
    return parse_json(read_text(path), path)


OUTPUT_MARKER = ".runtime-base-ci-output"


def fresh_output_dir(out: Path, *stage_files: str) -> None:
    """Empty `out` for a stage's output. Only an empty directory or one this project made (it
    holds OUTPUT_MARKER, or one of the stage's own `stage_files`) is ever removed, so a mistyped
    --out cannot delete someone's files."""
    check_replaceable(out, *stage_files)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / OUTPUT_MARKER).touch()


def check_replaceable(out: Path, *stage_files: str) -> None:
    """Refuse an `out` that is not a directory, or not empty and not made by us (see fresh_output_dir)."""
    if out.exists():
        if not out.is_dir():
            raise InputError(out, "exists and is not a directory")
        if any(out.iterdir()) and not any((out / f).exists() for f in (OUTPUT_MARKER, *stage_files)):
            raise InputError(out, "exists and was not made by runtime-base-ci: refusing to replace it")


@contextlib.contextmanager
def built_beside(out: Path, *stage_files: str) -> Iterator[Path]:
    """Yield a new directory beside `out` to build in; it replaces `out` only when the block
    completes, so a failure leaves the previous good output as it was. Leftovers of killed runs
    (`.<name>.*.partial`) are removed first."""
    out = Path(os.path.abspath(out))
    check_replaceable(out, *stage_files)
    check_name_limits(out)
    for leftover in out.parent.glob(f".{out.name}.*.partial"):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        new = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        os.chmod(new, 0o755)
        (new / OUTPUT_MARKER).touch()
    except OSError as exc:
        raise os_error(out, exc, "cannot create") from None
    try:
        yield new
        if not out.exists():
            os.rename(new, out)
        elif not exchange(new, out):  # no atomic swap here: a short moment without `out`
            old = new.with_name(f"{new.name}.old.partial")
            os.rename(out, old)
            os.rename(new, out)
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise os_error(out, exc, "cannot write") from None
    finally:
        shutil.rmtree(new, ignore_errors=True)


def exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step (Linux renameat2 RENAME_EXCHANGE): a reader sees one or the
    other, never a mix. False where the OS or file system cannot (the caller then falls back)."""
    if sys.platform != "linux":
        return False
    import ctypes  # here: only the package stage swaps

    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV, errno.EBUSY):  # e.g. a mount point
        return False
    raise os_error(b, OSError(code, os.strerror(code)), "cannot swap in the new files")
