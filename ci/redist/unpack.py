"""Reading a redistributable: its manifest first, then an extraction that admits only the files the
manifest lists (with their sizes), then every file checked against its sha256."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ci.core import schemas
from ci.core.errors import InputError
from ci.core.fs import TEXT_MAX, parse_json, sha256_file
from ci.redist import archive
from ci.redist.manifest import MANIFEST, check_library, check_manifest

#: Before its manifest is read: a redistributable holds a handful of files.
PACKAGE_LIMITS = archive.Limits(members=10_000)


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


def check_files(root: Path, manifest: dict, source: Path, digests: dict[str, str | None] | None = None) -> None:
    """Every listed file present with its size and sha256, every listed link with its target, and
    nothing unlisted. `digests`: the sha256s the extraction computed while writing (else the files
    are read and hashed here)."""
    listed = {f["path"]: f for f in manifest["files"]}
    links = {link["path"]: link["target"] for link in manifest.get("links", [])}
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
        sha256 = digests.get(name) if digests is not None else sha256_file(path)
        if path.stat().st_size != record["size"] or sha256 != record["sha256"]:
            raise InputError(source, f"{name} does not match its size/sha256 in {MANIFEST}")


def open_unpacked(root: Path, source: Path | None = None, expected_rid: str | None = None) -> Unpacked:
    """Validate an unpacked redistributable; errors name `source` (the archive) when given."""
    try:
        manifest = schemas.load("manifest", root / MANIFEST)
    except InputError as exc:
        if source is None:
            raise
        raise InputError(source, f"{MANIFEST}: {exc.problem}") from None
    check_manifest(manifest, source or root, expected_rid)
    check_files(root, manifest, source or root)
    check_library(root, manifest, source or root)
    return Unpacked(root, manifest)


def _admit_listed(manifest: dict, manifest_size: int):
    """The extraction's gate: only the manifest, the files it lists at their listed sizes, and their
    parent directories; anything else is refused before it is written."""
    sizes = ({f["path"]: f["size"] for f in manifest["files"]} | {MANIFEST: manifest_size}
             | {link["path"]: 0 for link in manifest.get("links", [])})  # a link member has no data
    dirs = {str(parent) for name in sizes for parent in PurePosixPath(name).parents if str(parent) != "."}

    def accept(name: str, size: int, is_dir: bool) -> str | None:
        if is_dir:
            return None if name in dirs else f"a directory not holding any file listed in {MANIFEST}"
        if name not in sizes:
            return f"not listed in {MANIFEST}"
        if size != sizes[name]:
            return f"{size} bytes, but {MANIFEST} says {sizes[name]}"
        return None

    return accept, sum(sizes.values())


def symbols_archive_name(package_name: str) -> str:
    """runtime-base-<version>-<rid>.tar.gz -> runtime-base-<version>-<rid>-symbols.tar.gz (.zip alike)."""
    suffix = next((s for s in (".tar.gz", ".zip") if package_name.endswith(s)), "")
    return package_name.removesuffix(suffix) + "-symbols" + suffix


def read_manifest(package: Path, schema: str) -> tuple[dict, int]:
    """The archive's manifest.json, read before anything is extracted and validated against `schema`;
    with its size in bytes."""
    raw = archive.read_member(package, MANIFEST, TEXT_MAX, PACKAGE_LIMITS)
    if raw is None:
        raise InputError(package, f"{MANIFEST}: missing from the archive (not a Runtime.Base package)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(package, f"{MANIFEST}: not UTF-8 text") from None
    manifest = parse_json(text, f"{package}: {MANIFEST}")
    schemas.validate(schema, manifest, f"{package}: {MANIFEST}")
    return manifest, len(raw)


def extract_listed(package: Path, dest: Path, listed: dict, manifest_size: int, durable: bool = False) -> None:
    """Extract into `dest` (new or empty) only what `listed` names, at its sizes, then check every
    file's sha256; on any failure nothing is left at `dest`."""
    accept, total = _admit_listed(listed, manifest_size)
    limits = archive.Limits(members=2 * len(listed["files"]) + 64, total_bytes=total)  # files and their dirs
    digests = archive.extract(package, dest, limits, accept, durable=durable)
    try:
        check_files(dest, listed, package, digests)
    except InputError:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def unpack_symbols(archive_path: Path, dest: Path, manifest: dict) -> None:
    """Extract a symbols archive (it has no manifest of its own) and check it against the package's."""
    extract_listed(archive_path, dest, {"files": manifest["symbols"]["files"], "links": []}, 0)


def unpack(package: Path, dest: Path, expected_rid: str | None = None) -> Unpacked:
    """Extract `package` into `dest` (new or empty), checking its manifest before anything is
    written; `expected_rid`: the platform the caller needs. Nothing half-done is left."""
    manifest, size = read_manifest(package, "manifest")
    check_manifest(manifest, package, expected_rid)
    # durable: written back now, so the files' pages show as clean when mapped (share measures them)
    extract_listed(package, dest, manifest, size, durable=True)
    try:
        check_library(dest, manifest, package)
    except InputError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return Unpacked(dest, manifest)
