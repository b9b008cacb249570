"""Input digests and stamps: a stage whose inputs did not change does no work."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from ci.core.fs import atomic_write_text, sha256_file

#: The file in a stage's output directory that holds the digest of the inputs it was made from.
STAMP = ".inputs.sha256"


def digest(files: Mapping[str, Path], extra: object = None) -> str:
    """sha256 over labelled files (label and content) and any JSON-able extra."""
    return key({label: sha256_file(path) for label, path in files.items()}, extra)


def key(digests: Mapping[str, str], extra: object = None) -> str:
    """`digest` from per-file sha256s already known (a stage that also needs them hashes each file once)."""
    h = hashlib.sha256()
    for label, sha256 in sorted(digests.items()):
        h.update(label.encode() + b"\0")
        h.update(bytes.fromhex(sha256))
    h.update(json.dumps(extra, sort_keys=True).encode())
    return h.hexdigest()


def is_fresh(stamp: Path, key: str, outputs: Iterable[Path]) -> bool:
    return stamp.is_file() and stamp.read_text() == key and all(p.exists() for p in outputs)


def mark_fresh(stamp: Path, key: str) -> None:
    atomic_write_text(stamp, key)


def cache_dir() -> Path:
    """Per-machine cache for what outlives a checkout (wine prefixes, toolchain support libs)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "runtime-base-ci"
