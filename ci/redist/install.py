"""Packages installed side by side under one root, and the links the loader finds them by.

Layout under a root R (one rid per root):
    R/shared/Runtime.Base/<version>/   a package unpacked as is (manifest.json, lib/ or bin/, include/);
                                       never overwritten, removed only by uninstall
    R/lib/libRuntime.Base.so.<major>   (Linux) a link to the real file of the highest installed
                                       <major>.x: roll-forward on minor and patch, as .NET's default
                                       `Minor` policy (docs: runtimeconfig rollForward)
Every step that changes what the loader sees is one rename (the unpacked tree, then each link), so
a run killed at any instant leaves the previous state or the next one, never a mix; leftovers of
killed runs (`.staging-*`, `.*.link-*`) are removed by the next run under the root's lock.
`register` adds R/lib to the loader's search: a file in ld.so.conf.d and ldconfig (ldconfig(8)).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ci.core import faults
from ci.core.errors import BadInput, CiError, InputError
from ci.core.fs import atomic_write_text, read_json
from ci.core.lock import locked
from ci.core.proc import run_tool
from ci.redist.unpack import MANIFEST, unpack
from ci.runtime.versioning import Version

SHARED = Path("shared") / "Runtime.Base"
LIB = "lib"
_STAGING = ".staging-"
_LINK_TMP = ".link-"
ETC = Path("/etc")


@dataclass(frozen=True)
class Installed:
    version: Version
    rid: str
    root: Path  # R/shared/Runtime.Base/<version>
    library: Path  # the real file
    selected: bool  # the one its major's link points at

    @property
    def line(self) -> str:
        return (f"{self.version.text} {self.rid} {self.root}" + (" (selected for major "
                                                                  f"{self.version.major})" if self.selected else ""))


def _order(version: Version) -> tuple:
    """Highest wins; a release above its own pre-releases (10.0.0 > 10.0.0-ref.1)."""
    label = version.text[len(f"{version.major}.{version.minor}.{version.patch}"):]
    return version.major, version.minor, version.patch, label == "", label


def soname_link(root: Path, manifest: dict) -> Path | None:
    """R/lib/<soname> for an ELF package; None where the format has no soname (PE)."""
    return root / LIB / manifest["soname"] if manifest.get("soname") and manifest["rid"].startswith("linux") else None


def installed(root: Path) -> list[Installed]:
    """Every installed version under `root`, highest first, and which one each major selects."""
    shared = root / SHARED
    found = []
    for entry in sorted(shared.iterdir()) if shared.is_dir() else ():
        if entry.name.startswith(".") or not (entry / MANIFEST).is_file():
            continue
        manifest = read_json(entry / MANIFEST)
        library = entry / manifest["library"]
        link = soname_link(root, manifest)
        selected = link is not None and link.is_symlink() and Path(os.path.realpath(link)) == library.resolve()
        found.append(Installed(Version.parse(manifest["version"]), manifest["rid"], entry, library, selected))
    return sorted(found, key=lambda i: _order(i.version), reverse=True)


def _relink(root: Path) -> None:
    """Point each major's link at its highest installed version (one rename per link)."""
    best: dict[int, Installed] = {}
    for item in installed(root):
        best.setdefault(item.version.major, item)
    for item in best.values():
        manifest = read_json(item.root / MANIFEST)
        link = soname_link(root, manifest)
        if link is None:
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.with_name(f"{_LINK_TMP}{link.name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.relpath(item.library, link.parent), tmp)
        faults.checkpoint("install-link-made")
        os.replace(tmp, link)
    majors = set(best)
    for link in (root / LIB).glob("libRuntime.Base.so.*") if (root / LIB).is_dir() else ():
        if link.is_symlink() and link.name.rsplit(".", 1)[-1].isdigit() and int(link.name.rsplit(".", 1)[-1]) not in majors:
            link.unlink()  # its major has nothing installed any more


def _clean_leftovers(root: Path) -> None:
    for leftover in (root / SHARED).glob(f"{_STAGING}*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in (root / LIB).glob(f"{_LINK_TMP}*"):
        leftover.unlink(missing_ok=True)


def install(package: Path, root: Path) -> Installed:
    """Unpack `package` to R/shared/Runtime.Base/<version>/ and select the highest of its major."""
    root = root.resolve()
    (root / SHARED).mkdir(parents=True, exist_ok=True)
    with locked(root / SHARED):
        _clean_leftovers(root)
        staging = root / SHARED / f"{_STAGING}{os.getpid()}"
        unpacked = unpack(package, staging)
        version, rid = unpacked.manifest["version"], unpacked.rid
        others = {i.rid for i in installed(root)} - {rid}
        final = root / SHARED / version
        if others or final.exists():
            shutil.rmtree(staging)
            if others:
                raise BadInput(f"{root}: holds {', '.join(sorted(others))} runtimes; {package.name} is {rid} "
                               "(one rid per root)")
            raise BadInput(f"{final}: Runtime.Base {version} is already installed; an installed version is never "
                           "overwritten (uninstall it first)")
        faults.checkpoint("install-unpacked")
        os.rename(staging, final)
        faults.checkpoint("install-renamed")
        _relink(root)
    return next(i for i in installed(root) if i.root == final)


def uninstall(root: Path, version: str) -> None:
    """Remove one installed version; its major's link moves to the next highest (or goes)."""
    root = root.resolve()
    target = root / SHARED / version
    if version.startswith(".") or "/" in version or not (target / MANIFEST).is_file():
        raise BadInput(f"{root}: Runtime.Base {version!r} is not installed (installed: "
                       f"{', '.join(i.version.text for i in installed(root)) or 'none'})")
    with locked(root / SHARED):
        _clean_leftovers(root)
        doomed = root / SHARED / f"{_STAGING}{os.getpid()}"
        os.rename(target, doomed)  # gone for the loader's links in one step, then relinked
        _relink(root)
        shutil.rmtree(doomed)


def registration_file(root: Path, etc: Path = ETC) -> Path:
    tag = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return etc / "ld.so.conf.d" / f"runtime-base-{tag}.conf"


def register(root: Path, etc: Path = ETC) -> Path:
    """R/lib in the loader's search (Linux): a file in <etc>/ld.so.conf.d, then ldconfig. With an
    <etc> other than /etc (a test root), ldconfig reads <etc>/ld.so.conf and writes <etc>/ld.so.cache
    only, making no links anywhere (-X)."""
    if not (etc / "ld.so.conf.d").is_dir():
        raise InputError(etc / "ld.so.conf.d", "missing: not a system configuration directory")
    if not (root / LIB).is_dir():
        raise CiError(f"{root}: nothing installed to register (no {LIB}/)")
    conf = registration_file(root, etc)
    atomic_write_text(conf, f"{(root / LIB).resolve()}\n")
    if etc.resolve() == ETC:
        run_tool(["ldconfig", "-X"])
    else:
        run_tool(["ldconfig", "-X", "-f", etc / "ld.so.conf", "-C", etc / "ld.so.cache"])
    return conf
