"""File-system rules every stage follows: outputs appear whole or not at all, JSON is read
with one-line errors, and an output directory is replaced only if it is ours."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ci.core.errors import InputError


@contextlib.contextmanager
def atomic_output(dest: Path) -> Iterator[BinaryIO]:
    """Yield a temp file beside `dest`; it becomes `dest` only if the block completes."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.chmod(tmp, 0o644)  # mkstemp makes 0o600: too private for a package
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(dest: Path, text: str) -> None:
    with atomic_output(dest) as out:
        out.write(text.encode("utf-8"))


def read_text(path: Path) -> str:
    """A UTF-8 text file's content, or an InputError naming the file and why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "missing") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None


def read_json(path: Path) -> object:
    """Parsed JSON, or an InputError naming the file and what is wrong with it."""
    text = read_text(path)
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError(path, f"not valid JSON ({str(exc) or 'nested too deeply'})") from None


OUTPUT_MARKER = ".runtime-base-ci-output"


def fresh_output_dir(out: Path, *stage_files: str) -> None:
    """Empty `out` for a stage's output. Only an empty directory or one this project made (it
    holds OUTPUT_MARKER, or one of the stage's own `stage_files`) is ever removed, so a mistyped
    --out cannot delete someone's files."""
    if out.exists():
        if not out.is_dir():
            raise InputError(out, "exists and is not a directory")
        if any(out.iterdir()) and not any((out / f).exists() for f in (OUTPUT_MARKER, *stage_files)):
            raise InputError(out, "exists and was not made by runtime-base-ci: refusing to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / OUTPUT_MARKER).touch()
