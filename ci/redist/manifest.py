"""The manifest: the contract between the package stage and every reader of a redistributable.

Its schema (packaging/manifest.schema.json) says what each field is; this module checks what the
schema cannot: that the manifest agrees with itself, with the caller's platform, and that the file
it names as the library is that library."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ci.binaries import read_binary
from ci.core.errors import InputError
from ci.core.fs import sha256_file
from ci.platforms import get_platform
from ci.redist import archive

MANIFEST = "manifest.json"


def file_records(entries: dict[str, Path], sha256: dict[Path, str]) -> list[dict]:
    """Each file's record; `sha256`: digests already computed by resolved path (each file is read once to hash)."""
    return [
        {"path": name, "size": path.stat().st_size, "mode": f"{archive.normalized_mode(path):04o}",
         "sha256": sha256.get(path.resolve()) or sha256_file(path)}
        for name, path in sorted(entries.items()) if not path.is_symlink()
    ]


def abi_hash(exports: list[dict]) -> str:
    """Changes exactly when an export is added, removed, changes kind or symbol version."""
    lines = sorted(f"{e['name']} {e['kind']} {e.get('version') or ''}".rstrip() for e in exports)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def check_manifest(manifest: dict, source: Path, expected_rid: str | None = None) -> None:
    """What the schema cannot say: the manifest agrees with itself (and with the caller's platform)."""
    if expected_rid is not None and manifest["rid"] != expected_rid:
        raise InputError(source, f"is a {manifest['rid']} package, not {expected_rid}")
    paths = [f["path"] for f in manifest["files"]]
    if len(set(paths)) != len(paths):
        raise InputError(source, f"{MANIFEST} lists a file twice")
    if MANIFEST in paths:
        raise InputError(source, f"{MANIFEST} lists itself")
    linked = {link["path"] for link in manifest.get("links", [])}  # the ELF dev link apps link against
    for role in ("library", "link", "include"):
        value = manifest[role]
        for name in [value] if isinstance(value, str) else value:
            if name not in paths and not (role == "link" and name in linked):
                raise InputError(source, f"{MANIFEST}: its {role} {name!r} is not among its files")


def _check_host(host: dict, manifest: dict, source: Path) -> None:
    """The host section restates the package's identity for a host: it must say what the rest says."""
    said = {"rid": host["rid"], "version": host["version"], "major": host["abi"]["major"],
            "abi_hash": host["abi"]["abi_hash"], "soname": host["files"]["soname"],
            "library": host["files"]["library"]}
    own = {"rid": manifest["rid"], "version": manifest["version"], "major": manifest["major"],
           "abi_hash": manifest["abi_hash"], "soname": manifest["soname"],
           "library": Path(manifest["library"]).name}
    if wrong := [key for key in said if said[key] != own[key]]:
        key = wrong[0]
        raise InputError(source, f"{MANIFEST}: its host section says {key} {said[key]!r}, the manifest {own[key]!r}")


def check_library(root: Path, manifest: dict, source: Path) -> None:
    """The file the manifest names as its library is a shared library of the rid's format and
    machine, and names itself as the manifest does (ELF soname, PE export-directory DLL name)."""
    name = manifest["library"]
    platform = get_platform(manifest["rid"])
    try:
        binary = read_binary(root / name)
    except InputError as exc:
        raise InputError(source, f"{MANIFEST}: its library {name}: {exc.problem}") from None
    expected_format = "pe" if platform.os == "win" else "elf"
    if binary.format != expected_format or binary.arch != platform.arch:
        raise InputError(source, f"{MANIFEST}: its library {name} is {binary.format} {binary.arch}, "
                                 f"not the {expected_format} {platform.arch} of {platform.rid}")
    if binary.kind != "shared-library":
        raise InputError(source, f"{MANIFEST}: its library {name} is {binary.kind}, not a shared library")
    if binary.soname != manifest["soname"]:
        raise InputError(source, f"{MANIFEST}: its library {name} names itself {binary.soname!r}, "
                                 f"the manifest says {manifest['soname']!r}")
    if host := manifest.get("host"):  # packages made before the host section have none
        _check_host(host, manifest, source)  # after the library: a wrong library is named as such
