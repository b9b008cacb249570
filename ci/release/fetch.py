"""Consumer side: download a rid's package from a release, check it against SHA256SUMS, unpack it safely."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from ci import platforms
from ci.redist import unpack as redist
from ci.redist.archive import check_extract_dest, sha256_file
from ci.redist.checksums import SUMS, read_sums
from ci.core.errors import CiError, InputError
from ci.release.github import GitHub, check_repo


def _archive_name(sums: dict[str, str], rid: str, source: str) -> str:
    """The one package archive for `rid` that SHA256SUMS lists (never the -symbols archive)."""
    suffix = platforms.get_platform(rid).archive_suffix
    pattern = re.compile(rf"runtime-base-.+-{re.escape(rid)}{re.escape(suffix)}")
    names = sorted(name for name in sums if pattern.fullmatch(name))
    if len(names) != 1:
        raise InputError(source, f"expected one {rid} package in {SUMS}, found {len(names)}: {', '.join(names) or '-'}")
    return names[0]


def _download(gh: GitHub, assets: dict[str, dict], name: str, folder: Path, where: str) -> Path:
    asset = assets.get(name)
    if asset is None or asset["state"] != "uploaded":
        raise CiError(f"{where}: no uploaded asset {name}")
    path = folder / name
    gh.download(asset["url"], path)
    return path


def fetch(repo: str, tag: str, rid: str, dest: Path, gh: GitHub | None = None) -> dict:
    """Unpack release `tag`'s package for `rid` into `dest` (which must not exist or be empty)."""
    check_repo(repo)
    platforms.get_platform(rid)  # bad arguments fail before any request
    check_extract_dest(dest)
    gh = gh or GitHub.from_env()
    where = f"{repo} release {tag}"
    release = gh.find_release(repo, tag)
    if release is None:
        raise CiError(f"{where}: not found")
    assets = {a["name"]: a for a in gh.list_assets(repo, release["id"])}
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.fetch.", dir=dest.parent) as tmp:
        sums = read_sums(_download(gh, assets, SUMS, Path(tmp), where))
        name = _archive_name(sums, rid, f"{where} {SUMS}")
        archive = _download(gh, assets, name, Path(tmp), where)
        if (actual := sha256_file(archive)) != sums[name]:
            raise InputError(f"{where} {name}", f"sha256 {actual} does not match {SUMS} ({sums[name]})")
        unpacked = redist.unpack(archive, dest, expected_rid=rid)
    return {"repo": repo, "tag": tag, "rid": rid, "archive": name, "sha256": sums[name], "dest": str(dest),
            "library": str(unpacked.library), "version": unpacked.manifest["version"],
            "requests": dict(sorted(gh.counts.items()))}
