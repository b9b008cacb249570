"""Build output -> redistributable: deterministic archives, manifest, split symbols, SHA256SUMS."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ci.binaries import Binary, read_binary
from ci.core import cache, schemas
from ci.core.epoch import source_date_epoch as epoch_or_default
from ci.core.errors import CiError, InputError
from ci.core.faults import checkpoint
from ci.core.fs import sha256_file
from ci.core.lock import locked
from ci.core.resources import packaging_file
from ci.platforms import Platform, get_platform
from ci.redist import archive, floors, sbom, sdk
from ci.redist.checksums import SUMS, read_sums
from ci.redist.dist import SBOM_SUFFIX, Staged, check_dist, clean_leftovers, transaction
from ci.redist.manifest import MANIFEST, abi_hash, file_records
from ci.runtime.exports import newest_node
from ci.runtime.output import BUILD_INFO, BuildOutput
from ci.runtime.versioning import Version

LAYOUT = packaging_file("layout.json")
HOST = packaging_file("host.json")  # the probing order per OS and the GC settings the shared runtime owns


@dataclass(frozen=True)
class Package:
    archive: Path
    symbols: Path
    manifest: Path  # a copy of the archive's manifest.json beside it in dist/
    rebuilt: bool
    sbom: Path  # the CycloneDX SBOM beside it in dist/
    sdk: Path | None = None  # fork builds: the SDK archive C# apps are built from (ci/redist/sdk.py)


def archive_stem(version: str, rid: str) -> str:
    return f"runtime-base-{version}-{rid}"


def source_date_epoch(build: BuildOutput) -> int:
    return epoch_or_default(build.source.date_epoch, str(build.root / BUILD_INFO))


def _place(layout: dict[str, str], role: str, rel: str) -> str:
    """Where a build output file of `role` goes in the redistributable."""
    return f"{layout[role]}/{PurePosixPath(rel).name}"


def _placed(build: BuildOutput, layout: dict[str, str]) -> tuple[dict[str, Path], dict[str, Path]]:
    """Archive name -> file for the redistributable and for the symbols archive."""
    files: dict[str, Path] = {}
    for role in ("library", "link", "include", "extra"):
        value = getattr(build, role)
        for rel in (value,) if isinstance(value, str) else value:
            files[_place(layout, role, rel)] = build.root / rel
    symbols = {_place(layout, "debug", rel): build.root / rel for rel in build.debug}
    return files, symbols


def _entries(files: dict[str, Path]) -> dict[str, archive.Entry]:
    """Archive entries: a symlink in the build output (the ELF dev link) stays a link."""
    return {name: archive.Symlink(os.readlink(path)) if path.is_symlink() else path for name, path in files.items()}


def _floor(binary: Binary, platform: Platform, library_name: str) -> dict:
    """What the runtime needs of its target, refused when beyond the platform's declared floor."""
    needed = floors.needs([binary])
    if problems := floors.problems(platform, needed):
        raise CiError(f"{library_name}: {'; '.join(problems)}")
    return {**needed, "declared": floors.declared(platform)}


def make_manifest(build: BuildOutput, platform: Platform, files: dict[str, Path], symbols: dict[str, Path],
                  epoch: int, symbols_archive: str, sha256: dict[Path, str] | None = None) -> dict:
    layout = _layout(platform)
    library_name = _place(layout, "library", build.library)
    binary = read_binary(files[library_name])
    exports = [{"name": s.name, "kind": s.kind, "version": s.version, "ordinal": s.ordinal}
               for s in sorted(binary.exports, key=lambda s: s.name)]
    return {
        "schema_version": 1,
        "name": build.name,
        "version": build.version,
        "rid": build.rid,
        "source": {"kind": build.source.kind, "commit": build.source.commit, "dirty": build.source.dirty},
        "source_date_epoch": epoch,
        "configuration": build.configuration,
        "library": library_name,
        "link": [_place(layout, "link", rel) for rel in build.link],
        "include": [_place(layout, "include", rel) for rel in build.include],
        "soname": binary.soname,
        "major": Version.parse(build.version).major,
        "links": [{"path": name, "target": os.readlink(path)} for name, path in sorted(files.items()) if path.is_symlink()],
        "floor": _floor(binary, platform, library_name),
        "build_id": binary.build_id,
        "exports": exports,
        "abi_hash": abi_hash(exports),
        "host": _host(build, platform, binary, library_name, exports),
        "files": file_records(files, sha256 or {}),
        "symbols": {"archive": symbols_archive, "files": file_records(symbols, sha256 or {})},
        "compression": archive.deflate_implementation(),
    }


def _host(build: BuildOutput, platform: Platform, binary: Binary, library_name: str, exports: list[dict]) -> dict:
    """What a host hands a runtime, once for every app: identity and ABI, the file names apps and
    loaders ask for, where the loader looks, and the settings that are the runtime's, not an app's."""
    version = Version.parse(build.version)
    facts = json.loads(HOST.read_text())
    names = {"library": PurePosixPath(library_name).name, "soname": binary.soname,
             "link": [PurePosixPath(_place(_layout(platform), "link", rel)).name for rel in build.link]}
    return {"rid": build.rid, "version": build.version,
            "abi": {"major": version.major, "minor": version.minor, "abi_hash": abi_hash(exports),
                    "symbol_version": newest_node(e["version"] for e in exports)},
            "files": names, "probing": facts["probing"][platform.os], "gc": facts["gc"]}


def _layout(platform: Platform) -> dict[str, str]:
    return json.loads(LAYOUT.read_text())[platform.os]


def package(build_dir: Path, dist: Path) -> Package:
    """Package a build output into `dist` (swapped in whole, under the dist lock); cached by inputs."""
    build = BuildOutput.read(build_dir)
    platform = get_platform(build.rid)
    epoch = source_date_epoch(build)
    stem = archive_stem(build.version, build.rid)
    suffix = platform.archive_suffix
    sdk_files = sdk.staged(build_dir)
    sdk_archive = dist / f"{sdk.sdk_stem(build.version, build.rid)}{suffix}" if sdk_files else None
    result = Package(dist / f"{stem}{suffix}", dist / f"{stem}-symbols{suffix}", dist / f"{stem}.{MANIFEST}", True,
                     dist / f"{stem}{SBOM_SUFFIX}", sdk_archive)
    check_dist(dist)
    inputs = {f: build_dir / f for f in (*build.files(), *build.debug, BUILD_INFO)}
    inputs.update(layout=LAYOUT, host=HOST, schema=schemas.schema_file("manifest"))
    inputs.update({f"sdk/{name}": path for name, path in sdk_files.items()})
    from ci.redist import nuget
    inputs.update({f"msbuild/{p.name}": p for p in sorted(nuget.msbuild_dir().iterdir())})
    with locked(dist):
        clean_leftovers(dist)
        digests = {label: sha256_file(path) for label, path in inputs.items()}  # each input read once
        key = cache.key(digests, [epoch, archive.deflate_implementation()])
        stamp = f".{stem}.inputs"
        outputs = [result.archive, result.symbols, result.manifest, result.sbom, *filter(None, [sdk_archive])]
        if cache.is_fresh(dist / stamp, key, outputs):
            return Package(result.archive, result.symbols, result.manifest, False, result.sbom, sdk_archive)
        files, symbols = _placed(build, _layout(platform))
        by_path = {path.resolve(): digests[label] for label, path in inputs.items()}
        manifest = make_manifest(build, platform, files, symbols, epoch, result.symbols.name, by_path)
        with transaction(dist) as staged:
            if sdk_files:
                sdk_path, manifest["sdk"] = sdk.write_sdk(staged.root, build, sdk_files, epoch, suffix, by_path)
                staged.sums[sdk_path.name] = manifest["sdk"]["sha256"]
            manifest_copy = staged.path(result.manifest.name)
            schemas.dump("manifest", manifest, manifest_copy)
            _write_archives(staged, suffix, {**_entries(files), MANIFEST: manifest_copy}, result.archive.name,
                            symbols, result.symbols.name, epoch)
            sbom.write_sbom(build, manifest, staged.path(result.sbom.name))
            _write_nupkgs(staged, build, files, sdk_files, manifest_copy, staged.root / result.sbom.name, epoch)
            checkpoint("archives-written")
            cache.mark_fresh(staged.path(stamp), key)
    return result


def _write_nupkgs(staged: Staged, build: BuildOutput, files: dict[str, Path], sdk_files: dict[str, Path],
                  manifest: Path, sbom_file: Path, epoch: int) -> None:
    """RuntimeBase.Runtime.<rid>, and with an SDK archive RuntimeBase.Sdk (ci/redist/nuget.py)."""
    from ci.redist import nuget

    rid, version, commit = build.rid, build.version, build.source.commit
    platform = get_platform(rid)
    jobs = [(nuget.runtime_id(rid), f"Runtime.Base {version} for {rid}: the shared runtime, its header, manifest and SBOM",
             nuget.runtime_files(rid, files, manifest, sbom_file), nuget.runtime_assets(platform, version))]
    parts = staged.root / ".nuget-parts"
    parts.mkdir()
    if sdk_files:
        jobs.append((nuget.SDK_ID, f"Build NativeAOT apps that import Runtime.Base {version} (PublishAot)",
                     nuget.sdk_files({rid: sdk_files}, version, parts), nuget.sdk_assets([platform], build.configuration)))
    for package_id, description, entries, assets in jobs:
        name = nuget.nupkg_name(package_id, version)
        dest = staged.path(name)
        staged.sums[name] = nuget.write_nupkg(dest, package_id, version, description, entries, epoch, commit)
        nuget.check_nupkg(dest, package_id, version, assets)
    shutil.rmtree(parts)


def _write_archives(staged: Staged, suffix: str, files: dict[str, archive.Entry], name: str, symbols: dict[str, Path],
                    symbols_name: str, epoch: int) -> None:
    """The runtime and symbols archives, side by side when there is a core for each (zlib and
    sha256 release the GIL, so threads run them in parallel)."""
    write = archive.write_zip if suffix == ".zip" else archive.write_tar_gz
    jobs = [(staged.path(name), files, MANIFEST), (staged.path(symbols_name), symbols, None)]
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
        done = list(pool.map(lambda job: write(job[0], job[1], epoch, first=job[2]), jobs))
    staged.sums.update({name: done[0], symbols_name: done[1]})


def find_package(dist: Path, platform: Platform) -> Path:
    """The one package for `platform` in `dist` (e.g. downloaded from another job), checked against SHA256SUMS."""
    suffix = platform.archive_suffix
    found = sorted(p for p in dist.glob(f"runtime-base-*-{platform.rid}{suffix}") if not p.name.startswith("runtime-base-sdk-"))
    if len(found) != 1:
        raise InputError(dist, f"expected one runtime-base-<version>-{platform.rid}{suffix}, found {len(found)}")
    with locked(dist):  # not while a package run swaps dist/
        expected = read_sums(dist / SUMS).get(found[0].name)
        if expected is None:
            raise InputError(dist / SUMS, f"does not list {found[0].name}")
        if sha256_file(found[0]) != expected:
            raise InputError(found[0], f"sha256 does not match {SUMS}")
    return found[0]
