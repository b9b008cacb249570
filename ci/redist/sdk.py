"""The SDK package: what an app build needs beside the runtime package, from a fork build.

runtime-base-sdk-<version>-<rid>.zip|tar.gz is laid out like NativeAOT's own ILCompiler package:
tools/ (ILC and its side files), framework/ (reference assemblies and the Outplace CoreLib; on
Linux the framework's static native libraries), sdk/ (aotsdk libraries, the bootstrapperoutplace
object, the aotsdk assemblies), and manifest.json listing every file (sdk.schema.json). The
runtime package's manifest names it with its sha256, and SHA256SUMS lists it, so an app build
takes both packages and nothing else.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ci.core import schemas
from ci.core.errors import InputError
from ci.core.fs import sha256_file
from ci.redist import archive
from ci.redist.manifest import MANIFEST, file_records
from ci.redist.unpack import extract_listed, read_manifest
from ci.runtime.fork import stand_in
from ci.runtime.fork.link import SDK_DIR
from ci.runtime.output import BuildOutput


def sdk_stem(version: str, rid: str) -> str:
    return f"runtime-base-sdk-{version}-{rid}"


def staged(build_dir: Path) -> dict[str, Path]:
    """The SDK tree a fork build left beside its output, by path in the archive; {} for the reference runtime."""
    root = build_dir / SDK_DIR
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()} if root.is_dir() else {}


def write_sdk(dist: Path, build: BuildOutput, files: dict[str, Path], epoch: int, suffix: str,
              sha256: dict[Path, str]) -> tuple[Path, dict]:
    """Write the SDK archive; returns it and its entry for the runtime manifest. `sha256`: the
    digests the package stage already has, by resolved path."""
    target = dist / f"{sdk_stem(build.version, build.rid)}{suffix}"
    records = file_records(files, sha256)
    manifest = {"schema_version": 1, "name": "Runtime.Base.SDK", "version": build.version, "rid": build.rid,
                "source": {"kind": build.source.kind, "commit": build.source.commit, "dirty": build.source.dirty},
                "configuration": build.configuration, "stand_in": stand_in.recorded(build.root), "files": records}
    staging = dist / f".{target.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        schemas.dump("sdk", manifest, staging / MANIFEST)
        write = archive.write_zip if suffix == ".zip" else archive.write_tar_gz
        digest = write(target, {**files, MANIFEST: staging / MANIFEST}, epoch, first=MANIFEST)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target, {"archive": target.name, "sha256": digest}


@dataclass(frozen=True)
class UnpackedSdk:
    root: Path
    manifest: dict

    @property
    def stand_ins(self) -> list[str]:
        return list(self.manifest["stand_in"])


def sdk_of(package: Path, runtime_manifest: dict) -> Path | None:
    """The SDK archive the runtime package names, beside it and matching its sha256; None when it names none."""
    entry = runtime_manifest.get("sdk")
    if entry is None:
        return None
    path = package.parent / entry["archive"]
    if not path.is_file():
        raise InputError(path, f"missing: {package.name} names it as its SDK package")
    if sha256_file(path) != entry["sha256"]:
        raise InputError(path, f"sha256 does not match the one in {package.name}'s manifest")
    return path


def unpack_sdk(path: Path, dest: Path, rid: str) -> UnpackedSdk:
    """Extract the SDK archive into `dest` (new or empty), its manifest read and checked first, and
    every file checked against it."""
    manifest, size = read_manifest(path, "sdk")
    if manifest["rid"] != rid:
        raise InputError(path, f"is a {manifest['rid']} SDK package, not {rid}")
    extract_listed(path, dest, manifest, size)
    return UnpackedSdk(dest, manifest)
