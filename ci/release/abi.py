"""ABI diff between two releases of Runtime.Base, and the rule that a breaking change needs a new major.

Each side is a package archive (its -symbols archive beside it is used when present), a dist
directory (every package in it, checked against SHA256SUMS), an unpacked package, a build output,
or OWNER/REPO@TAG (a GitHub release, through `fetch`). Export level, from the binaries: added and
removed exports, function<->data changes, symbol versions, PE ordinals. Type level, for ELF with the
split symbols on both sides: libabigail's `abidiff` over the .dbg files, limited to the types the
public headers declare.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ci import platforms
from ci.binaries import Binary, read_binary
from ci.core import schemas
from ci.core.errors import CiError, InputError
from ci.core.proc import ToolTimedOut, run
from ci.redist.package import find_package
from ci.redist.unpack import Unpacked, open_unpacked, symbols_archive_name, unpack, unpack_symbols
from ci.runtime.output import BUILD_INFO, BuildOutput
from ci.runtime.versioning import Version

VERDICTS = ("compatible", "breaking", "breaking-by-type")
_RELEASE = re.compile(r"(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)@(?P<tag>[^\s@]+)")
#: abidiff's exit status is a bit field (abg-tools-utils.h): error, usage error, ABI change, incompatible change.
_ABIDIFF_ERROR, _ABIDIFF_USAGE, _ABIDIFF_CHANGE, _ABIDIFF_INCOMPATIBLE = 1, 2, 4, 8
_ABIDIFF_SECONDS = 300


@dataclass(frozen=True)
class Side:
    """One release of one rid, as files on disk."""

    label: str
    version: str
    rid: str
    library: Path
    include: Path | None  # the public headers' directory
    debug: Path | None  # the directory holding the split symbols (ELF .dbg), if at hand


# --- sides -----------------------------------------------------------------------------------


def _from_unpacked(label: str, unpacked: Unpacked, symbols: Path | None) -> Side:
    manifest = unpacked.manifest
    include = {(unpacked.root / h).parent for h in manifest["include"]}
    debug = None
    if symbols is not None and manifest["symbols"]["files"]:
        debug = (symbols / manifest["symbols"]["files"][0]["path"]).parent
    return Side(label, manifest["version"], manifest["rid"], unpacked.library,
                min(include) if include else None, debug)


def _from_archive(label: str, package: Path, work: Path) -> Side:
    dest = Path(tempfile.mkdtemp(dir=work))
    unpacked = unpack(package, dest / "package")
    symbols = package.with_name(symbols_archive_name(package.name))
    if symbols.is_file():
        unpack_symbols(symbols, dest / "symbols", unpacked.manifest)
    return _from_unpacked(label, unpacked, dest / "symbols" if symbols.is_file() else None)


def _from_build(label: str, root: Path) -> Side:
    build = BuildOutput.read(root)
    include = {(root / h).parent for h in build.include}
    debug = {(root / d).parent for d in build.debug if d.endswith(".dbg")}
    return Side(label, build.version, build.rid, root / build.library, min(include) if include else None,
                min(debug) if debug else None)


def _dist_rids(dist: Path) -> list[str]:
    return [p.rid for p in platforms.PLATFORMS.values()
            if any(not f.name.endswith(f"-symbols{p.archive_suffix}")
                   for f in dist.glob(f"runtime-base-*-{p.rid}{p.archive_suffix}"))]


def open_sides(spec: str, work: Path, rids: list[str] | None = None) -> dict[str, Side]:
    """rid -> side for what `spec` names; `rids` picks from a dist dir or a release (required for a release)."""
    path = Path(spec)
    if path.is_file():
        side = _from_archive(spec, path, work)
        return {side.rid: side}
    if (path / BUILD_INFO).is_file():
        side = _from_build(spec, path)
        return {side.rid: side}
    if (path / "manifest.json").is_file():
        side = _from_unpacked(spec, open_unpacked(path), None)
        return {side.rid: side}
    if path.is_dir():
        wanted = rids or _dist_rids(path)
        if not wanted:
            raise InputError(path, "holds no runtime-base package")
        return {rid: _from_archive(spec, find_package(path, platforms.get_platform(rid)), work) for rid in wanted}
    if match := _RELEASE.fullmatch(spec):
        if not rids:
            raise InputError(spec, "a release holds packages for several rids: name the other side's package")
        return {rid: _from_release(spec, match["repo"], match["tag"], rid, work) for rid in rids}
    raise InputError(spec, "no such file or directory, and not OWNER/REPO@TAG")


def _from_release(label: str, repo: str, tag: str, rid: str, work: Path) -> Side:
    from ci.release.fetch import fetch  # the GitHub client only when a release is named

    dest = Path(tempfile.mkdtemp(dir=work))
    fetched = fetch(repo, tag, rid, dest / "package", symbols=dest / "symbols")
    return _from_unpacked(label, open_unpacked(Path(fetched["dest"])), fetched["symbols"] and Path(fetched["symbols"]))


# --- comparing -------------------------------------------------------------------------------


def _export_changes(old: Binary, new: Binary) -> dict:
    before = {s.name: s for s in old.exports}
    after = {s.name: s for s in new.exports}
    both = sorted(before.keys() & after.keys())

    def changed(field: str) -> list[dict]:
        return [{"name": n, "old": getattr(before[n], field), "new": getattr(after[n], field)}
                for n in both if getattr(before[n], field) != getattr(after[n], field)]

    added = sorted(after.keys() - before.keys())
    # A new export in a version node the old release already had: an app built against the new one
    # needs only that node, so the loader would start it on the old release, and it would fail at
    # its first call. New exports belong in the new minor's node.
    old_nodes = {s.version for s in old.exports if s.version}
    return {"added": added, "added_to_old_node": [n for n in added if after[n].version in old_nodes],
            "removed": sorted(before.keys() - after.keys()),
            "kind_changed": changed("kind"), "version_changed": changed("version"),
            "ordinal_changed": changed("ordinal")}


def _type_changes(old: Side, new: Side, old_binary: Binary) -> dict:
    """abidiff over the split symbols; what it found, or why it did not run."""
    if old_binary.format != "elf":
        return {"compared": False, "reason": "type-level diff needs ELF with DWARF (PE symbols are PDB/split PE)",
                "changed": False, "report": ""}
    missing = [s.label for s in (old, new) if s.debug is None]
    if missing:
        return {"compared": False, "reason": f"no split symbols (.dbg) for {', '.join(missing)}", "changed": False,
                "report": ""}
    abidiff = shutil.which("abidiff")
    if abidiff is None:
        raise CiError("abidiff: not found on PATH (install Debian's abigail-tools)")
    argv = [abidiff, "--no-added-syms", "--d1", str(old.debug), "--d2", str(new.debug)]
    if old.include and new.include:  # only the types the public headers declare
        argv += ["--hd1", str(old.include), "--hd2", str(new.include)]
    try:
        done = run([*argv, str(old.library), str(new.library)], timeout=_ABIDIFF_SECONDS)
    except ToolTimedOut:
        raise CiError(f"abidiff: no answer within {_ABIDIFF_SECONDS}s for {old.library} and {new.library}") from None
    if done.returncode & (_ABIDIFF_ERROR | _ABIDIFF_USAGE):
        tail = " ".join((done.stderr or done.stdout).split())[:300]
        raise CiError(f"abidiff failed (exit {done.returncode}) on {old.library} and {new.library}: {tail}")
    return {"compared": True, "reason": None,
            "changed": bool(done.returncode & (_ABIDIFF_CHANGE | _ABIDIFF_INCOMPATIBLE)), "report": done.stdout}


def compare(old: Side, new: Side) -> dict:
    """The ABI changes from `old` to `new`, their verdict, and whether the version allows it."""
    old_binary, new_binary = read_binary(old.library), read_binary(new.library)
    exports = _export_changes(old_binary, new_binary)
    types = _type_changes(old, new, old_binary)
    if exports["removed"] or exports["kind_changed"] or exports["version_changed"] or exports["added_to_old_node"]:
        verdict = "breaking"
    elif types["changed"]:
        verdict = "breaking-by-type"
    else:
        verdict = "compatible"
    old_major, new_major = Version.parse(old.version).major, Version.parse(new.version).major
    problems = []
    if verdict != "compatible" and new_major <= old_major:
        problems.append(f"{new.rid}: {verdict} ABI change from {old.version} to {new.version} "
                        f"without a major version bump (major {old_major} -> {new_major})")
    return {"rid": new.rid, "old": {"version": old.version, "soname": old_binary.soname, "major": old_major},
            "new": {"version": new.version, "soname": new_binary.soname, "major": new_major},
            "verdict": verdict, "exports": exports, "types": types, "problems": problems}


def diff(old_spec: str, new_spec: str, work: Path) -> dict:
    """Compare every rid of `new_spec` with the same rid of `old_spec`."""
    new = open_sides(new_spec, work)
    old = open_sides(old_spec, work, sorted(new))
    if missing := sorted(new.keys() - old.keys()):
        raise InputError(old_spec, f"has no package for {', '.join(missing)}")
    results = [compare(old[rid], new[rid]) for rid in sorted(new)]
    report = {"old": old_spec, "new": new_spec, "results": results, "ok": not any(r["problems"] for r in results)}
    schemas.validate("abi", report, "abi report")
    return report


# --- release notes -----------------------------------------------------------------------------


def notes(report: dict) -> str:
    """Markdown for the release notes: the ABI changes per rid."""
    lines = [f"## ABI changes since {report['old']}", ""]
    for result in report["results"]:
        exports = result["exports"]
        lines.append(f"### {result['rid']}: {result['verdict']} ({result['old']['version']} -> {result['new']['version']}, "
                     f"{result['new']['soname'] or '-'})")
        lines += [f"- added: `{name}`" + (" (to a version node the old release has: breaking)"
                                           if name in exports["added_to_old_node"] else "")
                  for name in exports["added"]]
        lines += [f"- removed: `{name}`" for name in exports["removed"]]
        for field, label in (("kind_changed", "kind"), ("version_changed", "symbol version"),
                             ("ordinal_changed", "ordinal")):
            lines += [f"- {label} of `{c['name']}`: {c['old']} -> {c['new']}" for c in exports[field]]
        types = result["types"]
        if types["changed"]:
            lines += ["- type changes (abidiff):", "", "```", types["report"].strip(), "```"]
        elif not types["compared"]:
            lines.append(f"- types not compared: {types['reason']}")
        if lines[-1].startswith("###"):
            lines.append("- no change")
        lines.append("")
    return "\n".join(lines)


def require_compatible(previous: str, new: str) -> dict:
    """The ABI report of `new` against `previous`; stops a package or a publish whose ABI breaks
    without a new major version."""
    with tempfile.TemporaryDirectory(prefix="runtime-base-abi.") as work:
        report = diff(previous, new, Path(work))
    if problems := [p for r in report["results"] for p in r["problems"]]:
        raise CiError(f"ABI check against {previous}: {'; '.join(problems)}")
    return report

