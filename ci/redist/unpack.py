"""Reading a redistributable: unpack safely, validate its manifest, check every file against it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ci.redist import archive
from ci.core import schemas
from ci.core.errors import InputError
from ci.redist.package import MANIFEST


@dataclass(frozen=True)
class Unpacked:
    root: Path
    manifest: dict

    @property
    def library(self) -> Path:
        return self.root / self.manifest["library"]

    @property
    def rid(self) -> str:
        return self.manifest["rid"]


def check_files(root: Path, manifest: dict, source: Path) -> None:
    """Every listed file present with its size and sha256, every listed link with its target, and nothing unlisted."""
    listed = {f["path"]: f for f in manifest["files"]}
    links = {link["path"]: link["target"] for link in manifest["links"]}
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.is_symlink()} - {MANIFEST}
    present_links = {p.relative_to(root).as_posix(): os.readlink(p) for p in root.rglob("*") if p.is_symlink()}
    if present_links != links:
        name = sorted(set(present_links.items()) ^ set(links.items()))[0][0]
        raise InputError(source, f"link {name} does not match the links in {MANIFEST}")
    for name in sorted(present - listed.keys()):
        raise InputError(source, f"{name} is not listed in {MANIFEST}")
    for name, record in sorted(listed.items()):
        path = root / name
        if not path.is_file():
            raise InputError(source, f"{name} is listed in {MANIFEST} but missing")
        if path.stat().st_size != record["size"] or archive.sha256_file(path) != record["sha256"]:
            raise InputError(source, f"{name} does not match its size/sha256 in {MANIFEST}")


def open_unpacked(root: Path, source: Path | None = None) -> Unpacked:
    """Validate an unpacked redistributable; errors name `source` (the archive) when given."""
    try:
        manifest = schemas.load("manifest", root / MANIFEST)
    except InputError as exc:
        if source is None:
            raise
        raise InputError(source, f"{MANIFEST}: {exc.problem}") from None
    check_files(root, manifest, source or root)
    return Unpacked(root, manifest)


def symbols_archive_name(package_name: str) -> str:
    """runtime-base-<version>-<rid>.tar.gz -> runtime-base-<version>-<rid>-symbols.tar.gz (.zip alike)."""
    suffix = next((s for s in (".tar.gz", ".zip") if package_name.endswith(s)), "")
    return package_name.removesuffix(suffix) + "-symbols" + suffix


def unpack_symbols(archive_path: Path, dest: Path, manifest: dict) -> None:
    """Extract a symbols archive (it has no manifest of its own) and check it against the package's."""
    archive.safe_extract(archive_path, dest)
    check_files(dest, {"files": manifest["symbols"]["files"], "links": []}, archive_path)


def _sync(root: Path) -> None:
    """Write the unpacked files back now: durable, and their pages show as clean when mapped."""
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def unpack(package: Path, dest: Path) -> Unpacked:
    """Extract `package` into `dest` (replaced), then validate it; nothing half-done is left."""
    archive.safe_extract(package, dest)
    _sync(dest)
    try:
        return open_unpacked(dest, package)
    except InputError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
