"""dist/ changes in one step: the new set is staged beside it (unchanged files hard-linked, new ones
written there, SHA256SUMS last) and swapped in whole, so at every instant `sha256sum -c` passes
and every manifest copy matches its archive, whenever the run is killed."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ci.core.errors import InputError
from ci.core.faults import checkpoint
from ci.core.fs import atomic_output, copy_stream, exchange, os_error, sha256_file
from ci.redist.checksums import SUMS, read_sums, write_sums_from

ARCHIVE_SUFFIXES = (".tar.gz", ".zip")
SBOM_SUFFIX = ".cdx.json"  # the CycloneDX SBOM beside each package (ci/redist/sbom.py)
#: What SHA256SUMS (and so provenance and publish) covers.
NUPKG_SUFFIX = ".nupkg"  # the NuGet packages (ci/redist/nuget.py writes them)
SUMMED_SUFFIXES = (*ARCHIVE_SUFFIXES, SBOM_SUFFIX, NUPKG_SUFFIX)
_STAGING = ".staging"


def clean_leftovers(dist: Path) -> None:
    """What a killed run left: staged sets beside dist/, half-written files in it."""
    for staged in dist.parent.glob(f".{dist.name}.*{_STAGING}"):
        shutil.rmtree(staged, ignore_errors=True)
    if dist.is_dir():
        for partial in dist.glob(".*.partial"):
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
            else:
                partial.unlink(missing_ok=True)


def check_dist(dist: Path) -> None:
    """dist/ is swapped whole: it cannot be the current directory or hold it."""
    here, whole = Path.cwd().resolve(), dist.resolve()
    if here == whole or whole in here.parents:
        raise InputError(dist, "is (or holds) the current directory; give a --dist beside it")
    if dist.exists() and not dist.is_dir():
        raise InputError(dist, "exists and is not a directory")


class Staged:
    """The next dist/: write new files at `path(name)`, record their sha256 in `sums`."""

    def __init__(self, root: Path):
        self.root = root
        self.sums: dict[str, str] = {}
        self.written: set[str] = set()  # names given out by path(): never the old file's sum

    def path(self, name: str) -> Path:
        (self.root / name).unlink(missing_ok=True)  # a hard link to the old file: never write through it
        self.written.add(name)
        return self.root / name


@contextlib.contextmanager
def transaction(dist: Path) -> Iterator[Staged]:
    """Stage the next dist/ (a copy by hard links of the current one); swap it in if the block completes."""
    dist = Path(os.path.abspath(dist))
    try:
        root = Path(tempfile.mkdtemp(prefix=f".{dist.name}.", suffix=_STAGING, dir=dist.parent))
    except OSError as exc:
        raise os_error(dist, exc, "cannot stage") from None
    try:
        os.chmod(root, stat.S_IMODE(dist.stat().st_mode) if dist.is_dir() else 0o755)  # mkdtemp made it 0o700
        old_sums = _clone(dist, root)
        staged = Staged(root)
        yield staged
        archives = sorted(p.name for p in root.iterdir() if p.is_file() and p.name.endswith(SUMMED_SUFFIXES))
        kept = {n: old_sums[n] for n in archives if n in old_sums and n not in staged.written}
        write_sums_from(root, {n: staged.sums.get(n) or kept.get(n) or sha256_file(root / n) for n in archives})
        checkpoint("dist-staged")
        _swap(root, dist)
        checkpoint("dist-swapped")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _clone(dist: Path, root: Path) -> dict[str, str]:
    """Hard-link dist/'s entries into `root`; the sums SHA256SUMS held (trusted: the files are ours)."""
    if not dist.is_dir():
        return {}
    for entry in dist.iterdir():
        if entry.name == SUMS:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, root / entry.name, symlinks=True, copy_function=_link)
        else:
            _link(entry, root / entry.name)
    try:
        return read_sums(dist / SUMS) if (dist / SUMS).is_file() else {}
    except InputError:
        return {}  # unreadable: every archive is hashed again


def _link(src: Path | str, dst: Path | str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:  # a file system without hard links
        shutil.copy2(src, dst, follow_symlinks=False)


def _swap(root: Path, dist: Path) -> None:
    """Put the staged set at `dist`: a rename when there is none yet, else an atomic exchange."""
    if not dist.exists():
        os.rename(root, dist)
        root.mkdir()  # for the caller's cleanup
        return
    if exchange(root, dist):
        return
    # No atomic exchange here (not Linux, or dist/ is a mount point): each file copied in whole,
    # archives and manifests first, SHA256SUMS last.
    for entry in sorted(root.iterdir(), key=lambda p: p.name == SUMS):
        target = dist / entry.name
        if not entry.is_file() or (target.exists() and target.samefile(entry)):
            continue  # a directory, or a file hard-linked unchanged
        with open(entry, "rb") as src, atomic_output(target) as out:
            copy_stream(src, out)
