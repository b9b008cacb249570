"""Consumer side: download a rid's package from a release, check it against SHA256SUMS, unpack it safely.

The package is unpacked beside `dest` and moved there only once everything checks: the archive's
sha256, the manifest's schema and files, its rid (the one asked for) and its library (one of its files).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from ci import platforms
from ci.core.errors import CiError, InputError
from ci.core.fs import sha256_file
from ci.redist import unpack as redist
from ci.redist.archive import check_extract_dest
from ci.redist.checksums import SUMS, read_sums
from ci.release.github import GitHub
from ci.release.inputs import check_release

MAX_SUMS = 1 << 20  # a SHA256SUMS naming thousands of files; a larger one is not ours
MAX_ARCHIVE = 2 << 30  # far above any Runtime.Base package: a release naming more is not downloaded


def _archive_name(sums: dict[str, str], rid: str, source: str) -> str:
    """The one package archive for `rid` that SHA256SUMS lists (never the -symbols archive)."""
    suffix = platforms.get_platform(rid).archive_suffix
    pattern = re.compile(rf"runtime-base-.+-{re.escape(rid)}{re.escape(suffix)}")
    names = sorted(name for name in sums if pattern.fullmatch(name))
    if len(names) != 1:
        raise InputError(source, f"expected one {rid} package in {SUMS}, found {len(names)}: {', '.join(names) or '-'}")
    return names[0]


def _download(gh: GitHub, assets: dict[str, dict], name: str, folder: Path, where: str, limit: int) -> Path:
    """The asset, downloaded no further than the size the release lists for it (itself at most `limit`)."""
    asset = assets.get(name)
    if asset is None or asset["state"] != "uploaded":
        raise CiError(f"{where}: no uploaded asset {name}")
    if asset["size"] > limit:
        raise CiError(f"{where}: {name} is listed at {asset['size']} bytes, more than the {limit} it may have")
    path = folder / name
    gh.download(asset["url"], path, asset["size"])
    return path


def _workspace(dest: Path) -> tempfile.TemporaryDirectory:
    """A temporary folder beside `dest` (same file system: the finished package is moved, not copied)."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryDirectory(prefix=f".{dest.name}.fetch.", dir=dest.parent)
    except OSError as exc:
        raise InputError(dest, f"cannot create a folder beside it: {exc.strerror}") from None


def _fetch_symbols(gh: GitHub, assets: dict[str, dict], sums: dict[str, str], name: str, manifest: dict,
                   folder: Path, dest: Path, where: str) -> bool:
    """The package's -symbols archive, when the release has one, checked and unpacked into `dest`."""
    symbols = redist.symbols_archive_name(name)
    if symbols not in sums:
        return False
    path = _download(gh, assets, symbols, folder, where, MAX_ARCHIVE)
    if (actual := sha256_file(path)) != sums[symbols]:
        raise InputError(f"{where} {symbols}", f"sha256 {actual} does not match {SUMS} ({sums[symbols]})")
    redist.unpack_symbols(path, dest, manifest)
    return True


def _fetch_into(gh: GitHub, repo: str, tag: str, rid: str, folder: Path,
                symbols: Path | None) -> tuple[str, str, dict, bool]:
    """Download, check and unpack the package into folder/package, and its symbols into `symbols`
    when asked: (archive name, sha256, manifest, whether symbols were unpacked)."""
    where = f"{repo} release {tag}"
    release = gh.find_release(repo, tag)
    if release is None:
        raise CiError(f"{where}: not found")
    assets = {a["name"]: a for a in gh.list_assets(repo, release["id"])}
    sums = read_sums(_download(gh, assets, SUMS, folder, where, MAX_SUMS))
    name = _archive_name(sums, rid, f"{where} {SUMS}")
    archive = _download(gh, assets, name, folder, where, MAX_ARCHIVE)
    if (actual := sha256_file(archive)) != sums[name]:
        raise InputError(f"{where} {name}", f"sha256 {actual} does not match {SUMS} ({sums[name]})")
    try:
        unpacked = redist.unpack(archive, folder / "package", expected_rid=rid)
    except InputError as exc:  # named by the release, not by the temporary folder that goes away
        raise InputError(f"{where} {name}", exc.problem) from None
    manifest = unpacked.manifest  # checked by unpack: schema, no key twice, the rid asked for, its library
    with_symbols = symbols is not None and _fetch_symbols(gh, assets, sums, name, manifest, folder, symbols, where)
    return name, sums[name], manifest, with_symbols


def fetch(repo: str, tag: str, rid: str, dest: Path, gh: GitHub | None = None, symbols: Path | None = None) -> dict:
    """Unpack release `tag`'s package for `rid` into `dest` (which must not exist or be empty), and
    its split symbols into `symbols` when asked and the release has them."""
    check_release(repo, tag)
    platforms.get_platform(rid)  # bad arguments fail before any request
    check_extract_dest(dest)
    gh = gh or GitHub.from_env()
    with _workspace(dest) as tmp:
        name, sha256, manifest, with_symbols = _fetch_into(gh, repo, tag, rid, Path(tmp), symbols)
        check_extract_dest(dest)  # still missing or empty: replacing an empty directory loses nothing
        try:
            os.replace(Path(tmp) / "package", dest)
        except OSError as exc:
            raise InputError(dest, f"cannot move the package there: {exc.strerror}") from None
    return {"repo": repo, "tag": tag, "rid": rid, "archive": name, "sha256": sha256, "dest": str(dest),
            "symbols": str(symbols) if with_symbols else None,
            "library": str(dest / manifest["library"]), "version": manifest["version"],
            "requests": dict(sorted(gh.counts.items()))}
