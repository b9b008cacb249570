"""`doctor APP`: which Runtime.Base an app needs, every place the loader would look for it, in the
loader's order, what is there, and whether the app would start, without running it.

The app's requirement is what the loader itself checks: its DT_NEEDED soname
(libRuntime.Base.so.<major>) and the newest RUNTIME_BASE_<major>.<minor> node its imports name.
Search order: glibc's ld.so(8) (man7.org ld.so.8, "Finding shared libraries"): DT_RPATH when there
is no DT_RUNPATH, LD_LIBRARY_PATH, DT_RUNPATH, /etc/ld.so.cache, then the default directories. The
loader takes the first file of the right class and machine and then checks its version nodes: a file
that lacks one is fatal, the search does not go on ("version ... not found").
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ci.binaries import Binary, read_binary
from ci.core.errors import BadInput, InputError
from ci.core.fs import read_json
from ci.core.proc import run
from ci.platforms import Platform, for_binary, host_rid
from ci.redist.install import LIB
from ci.redist.manifest import MANIFEST
from ci.runtime.exports import newest_node, node_release

_SONAME = re.compile(r"libRuntime\.Base\.so\.(\d+)")
#: `ldconfig -p`'s tag for each architecture (glibc elf/cache.c print_entry).
_CACHE_ARCH = {"x64": "x86-64", "arm64": "AArch64"}
RUNS, NOT_FOUND, TOO_OLD = "runs", "not found", "too old"


@dataclass(frozen=True)
class Requirement:
    soname: str
    major: int
    minor: int
    nodes: tuple[str, ...]  # the version nodes the app's imports name
    rid: str


@dataclass(frozen=True)
class Place:
    where: str  # a directory or the cache file
    how: str  # "DT_RUNPATH", "LD_LIBRARY_PATH", "ld.so.cache", "default directory", ...
    found: str  # what is there: "nothing", "wrong machine", or the file and its version


@dataclass(frozen=True)
class Diagnosis:
    app: str
    requirement: Requirement
    places: tuple[Place, ...]
    verdict: str  # RUNS, NOT_FOUND or TOO_OLD
    library: str | None  # the file the loader takes
    summary: str  # one line
    fix: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def requirement(app: Binary, platform: Platform) -> Requirement:
    needed = [m for m in map(_SONAME.fullmatch, app.needed) if m]
    if not needed:
        raise BadInput(f"{app.path}: does not import Runtime.Base (needs {', '.join(app.needed) or 'nothing'})")
    soname, major = needed[0][0], int(needed[0][1])
    nodes = sorted({s.version for s in app.imports_from(soname) if s.version}, key=lambda v: node_release(v) or (0, 0))
    newest = newest_node(nodes)
    release = node_release(newest) if newest else None
    return Requirement(soname, major, release[1] if release else 0, tuple(nodes), platform.rid)


def _cache_entries(cache: Path, platform: Platform) -> dict[str, Path]:
    """soname -> path for the architecture, as `ldconfig -p` prints the cache (the real reader)."""
    if not cache.is_file():
        return {}
    done = run(["ldconfig", "-p", "-C", cache])
    tag = _CACHE_ARCH[platform.arch]
    entries: dict[str, Path] = {}
    for line in done.stdout.splitlines():
        match = re.match(r"\s+(\S+) \(([^)]*)\) => (.+)$", line)
        if match and tag in match[2].split(","):
            entries.setdefault(match[1], Path(match[3]))
    return entries


def _version_of(library: Path) -> str:
    """The installed package's version (its manifest beside lib/), else the real file's name."""
    real = Path(os.path.realpath(library))
    manifest = real.parent.parent / MANIFEST
    data = read_json(manifest) if manifest.is_file() else None
    return str(data["version"]) if isinstance(data, dict) and "version" in data else real.name


def _look(candidate: Path, app: Binary) -> tuple[str, Binary | None]:
    if not candidate.exists():
        return "nothing", None
    try:
        library = read_binary(candidate)
    except InputError:
        return "not an ELF file (skipped)", None
    if library.format != "elf" or library.arch != app.arch:
        return f"{candidate.name} for {library.arch} (wrong machine, skipped)", None
    return f"{os.path.realpath(candidate)} (Runtime.Base {_version_of(candidate)})", library


def _places(app: Binary, platform: Platform, env: Mapping[str, str], cache: Path,
            sysroot: Path | None) -> list[tuple[Path, str]]:
    origin = str(app.path.absolute().parent)

    def expand(entry: str) -> Path:
        return Path(entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin))

    def rooted(path: Path) -> Path:  # qemu-user -L: the guest's absolute paths under the sysroot first
        inside = sysroot / path.relative_to("/") if sysroot and path.is_absolute() else path
        return inside if sysroot is None or inside.exists() else path

    order: list[tuple[Path, str]] = []
    if not app.runpath:
        order += [(expand(e), "DT_RPATH") for e in app.rpath if e]
    order += [(Path(e), "LD_LIBRARY_PATH (override)") for e in env.get("LD_LIBRARY_PATH", "").split(":") if e]
    order += [(expand(e), "DT_RUNPATH") for e in app.runpath if e]
    order.append((rooted(cache), "ld.so.cache"))
    defaults = [Path("/lib"), Path("/usr/lib"), *(Path(p) for p in platform.lib_dirs)]
    order += [(rooted(d), "default directory") for d in dict.fromkeys(defaults)]
    return order


def diagnose(app_path: Path, env: Mapping[str, str] = os.environ, cache: Path = Path("/etc/ld.so.cache"),
             sysroot: Path | None = None) -> Diagnosis:
    app = read_binary(app_path)
    if app.format != "elf":
        raise BadInput(f"{app_path}: doctor reads ELF apps (a PE app finds Runtime.Base.dll in its own directory)")
    platform = for_binary(app.format, app.arch)
    if sysroot is None and platform.rid != host_rid():
        sysroot = platform.sysroot  # where qemu-user -L finds the target's files
    need = requirement(app, platform)
    places, taken = [], None
    for where, how in _places(app, platform, env, cache, sysroot):
        if how == "ld.so.cache":
            hit = _cache_entries(where, platform).get(need.soname)
            found, library = _look(hit, app) if hit else ("no entry" if where.is_file() else "no cache", None)
        else:
            found, library = _look(where / need.soname, app)
        places.append(Place(str(where), how, found))
        if library is not None:
            taken = library
            break
    wanted = f"Runtime.Base {need.major}.{need.minor} or later ({need.soname}" + (
        f", {need.nodes[-1]})" if need.nodes else ")")
    name = app_path.name
    if taken is None:
        looked = ", ".join(f"{p.where} ({p.how})" for p in places)
        fix = (f"install a {need.rid} package of Runtime.Base {need.major}.{need.minor} or later: python -m ci install "
               f"--package runtime-base-<version>-{need.rid}.tar.gz --root ROOT --register, or ship its "
               f"{LIB}/ beside the app ({Path(app.path.absolute().parent)})")
        return Diagnosis(str(app_path), need, tuple(places), NOT_FOUND, None,
                         f"{name} needs {wanted}: not found in {looked}; fix: {fix}", fix)
    provided = {s.version for s in taken.exports if s.version}
    missing = [n for n in need.nodes if n not in provided]
    taken_from = f"{taken.path} ({places[-1].how}, Runtime.Base {_version_of(taken.path)})"
    if missing:
        fix = (f"install Runtime.Base {need.major}.{need.minor} or later for {need.rid} where the loader looks first "
               f"(python -m ci install --package runtime-base-<version>-{need.rid}.tar.gz --root ROOT)")
        return Diagnosis(str(app_path), need, tuple(places), TOO_OLD, str(taken.path),
                         f"{name} needs {wanted}, but the loader takes {taken_from}, which lacks {', '.join(missing)}; "
                         f"fix: {fix}", fix)
    return Diagnosis(str(app_path), need, tuple(places), RUNS, str(taken.path), f"{name} runs with {taken_from}")
