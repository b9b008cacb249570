"""Run a target binary on this machine: natively, under qemu-user, under wine, or under an arm64
Wine in an arm64 Debian root through qemu-user (win-arm64 on an x64 host).

A Runner is entered once per stage, so wine keeps one wineserver (and one prefix, cached on
the machine) for all the runs in it instead of paying its start-up for each.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path, PureWindowsPath

from ci.core.cache import cache_dir
from ci.core.errors import CiError, EnvironmentProblem
from ci.core.proc import run
from ci.platforms import Platform
from ci.platforms.arch import arch

#: Where win-arm64 apps run on an x64 Linux host: Debian trixie's arm64 Wine (10.0) under qemu-user.
#: Bookworm's arm64 Wine 8.0 starts, but its aarch64-windows DLLs are stubs over ELF code that
#: reads va_list the Linux way, so the apps crash on their first printf.
WINE_SUITE = "trixie"
WINE_PACKAGES = ("wine64",)  # --no-install-recommends: 168 packages, no X server
WINE_LOADER = Path("/usr/lib/wine/wine64")  # inside the root
#: qemu's default CPU (`max`) enforces BTI, and Wine 10's hand-written ntdll.so assembly has no
#: landing pads (wineboot loops on EXCEPTION_ILLEGAL_INSTRUCTION in __wine_syscall_dispatcher).
QEMU_ENV = {"QEMU_CPU": "neoverse-n1"}
WINE_DIRS = (Path("/usr/lib/wine"), Path("/usr/lib64/wine"), Path("/opt/wine-stable/bin"))
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")

#: How each run mode is labelled in every report.
HOW = {"native": "native", "qemu-user": "emulated (qemu-user)", "wine": "emulated (wine)",
       "qemu-wine": "emulated (qemu-user + wine arm64)"}

#: Enter a Wine root: in a private mount namespace (the mounts vanish with the process, so none is
#: ever left behind under the cache), with /proc, /dev and /sys, and each host directory the run
#: needs bound at its own path, so the guest names files as the host does (Z: is the root).
#: exec all the way down: the process started is the guest's, so its /proc/PID/maps are the app's.
_ENTER_ROOT = r"""root=$1; shift
mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" && mount -t sysfs sysfs "$root/sys" || exit 125
while [ "$1" != -- ]; do mount --bind "$1" "$root$1" || exit 125; shift; done; shift
exec chroot "$root" "$@"
"""


def _find(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or next((str(d / name) for d in WINE_DIRS if (d / name).is_file()), None)
        if found:
            return found
    raise CiError(f"{names[0]}: not found (install it, see README 'Prerequisites')")


def wine_root_dir(arch: str) -> Path:
    """The Debian root with Wine for `arch` (ci.containers.images.wine_root builds it)."""
    return cache_dir() / "roots" / f"debian-{WINE_SUITE}-{arch}-wine"


class Runner:
    def __init__(self, platform: Platform):
        self.platform = platform
        self.mode = platform.run_mode
        self.env = dict(os.environ)
        self._prefix: list[str] = []
        self._root: Path | None = None  # the Wine root of mode qemu-wine
        self._binds: list[Path] = []  # host directories bound into it
        self._server_binds: list[Path] = []  # those its wineserver sees (it opens the files for its clients)

    def __enter__(self) -> Runner:
        if self.mode == "qemu-user":
            qemu = _find(arch(self.platform.arch).qemu)
            self._prefix = [qemu, "-L", str(self.platform.sysroot)]
        elif self.mode == "wine":
            self._start_wine(str(cache_dir() / f"wine-{self.platform.arch}"))
        elif self.mode == "qemu-wine":
            self._root = self._wine_root()
            self.env.update(QEMU_ENV)
            self._wine_env("/wineprefix")  # inside the root, so it is made once per root
            # Started at the first command, when the directories to bind are known.
        elif self.mode == "none":
            raise CiError(f"{self.platform.rid}: cannot run here (needs a {self.platform.runner} runner)")
        return self

    def _wine_root(self) -> Path:
        root = wine_root_dir(self.platform.arch)
        if not (root / WINE_LOADER.relative_to("/")).is_file():
            raise EnvironmentProblem(f"{self.platform.rid}: runs here in a Debian {WINE_SUITE} {self.platform.arch} root "
                                     f"with Wine, not built yet: run `python -m ci wine-root` (as root)")
        if os.geteuid() != 0:
            raise EnvironmentProblem(f"{self.platform.rid}: running apps in the Wine root {root} needs root (chroot)")
        return root

    def _wine_tool(self, name: str) -> list[str]:
        if self._root is None:
            return [_find(*{"wine": ("wine64", "wine")}.get(name, (name,)))]
        return [*self._in_root(), str(WINE_LOADER if name == "wine" else WINE_LOADER.with_name(name))]

    def _in_root(self) -> list[str]:
        assert self._root is not None
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _ENTER_ROOT, "sh",
                str(self._root), *map(str, self._binds), "--"]

    def _bind(self, directory: Path) -> None:
        """Make `directory` visible in the root at its own path (the mount point is made here, once)."""
        assert self._root is not None
        directory = directory.resolve()
        if directory not in self._binds:
            (self._root / directory.relative_to("/")).mkdir(parents=True, exist_ok=True)
            self._binds.append(directory)

    def _wine_env(self, prefix: str) -> None:
        self.env.update(WINEPREFIX=prefix, WINEDEBUG="-all",
                        WINEDLLOVERRIDES="mscoree,mshtml=")  # no Mono/Gecko install prompts
        (self._root or Path("/")).joinpath(prefix.lstrip("/")).mkdir(parents=True, exist_ok=True)

    def _start_wine(self, prefix: str) -> None:
        self._wine_env(prefix)
        try:
            self._boot()
        except BaseException:
            self.__exit__()  # __exit__ is not called when __enter__ fails: stop the server here
            raise

    def _boot(self) -> None:
        """A persistent server for the stage, so later runs skip wine's start-up; a server left
        behind by an interrupted run would make `-p` fail, so it goes first. wineboot starts wine's
        services now, with no pipes to hold, rather than in the first app's run."""
        run([*self._wine_tool("wineserver"), "-k"], env=self.env, quiet=True)
        self._start_daemon([*self._wine_tool("wineserver"), "-p"])
        self._server_binds = list(self._binds)
        self._start_daemon([*self._wine_tool("wine"), "wineboot", "-i"])

    def _start_daemon(self, argv: list[str]) -> None:
        """Run a wine command that leaves daemons behind holding its stdout: capturing would never end."""
        done = run(argv, env=self.env, quiet=True)
        if done.returncode != 0:
            raise CiError(f"{' '.join(argv)} failed (exit {done.returncode}) for WINEPREFIX={self.env['WINEPREFIX']}")

    def __exit__(self, *exc: object) -> None:
        if self.mode == "wine" or self._server_binds:
            run([*self._wine_tool("wineserver"), "-k"], env=self.env, quiet=True)

    def add_library_dir(self, directory: Path) -> None:
        """Let Windows binaries find DLLs in `directory` (ELF binaries carry a RUNPATH instead)."""
        if self.platform.os != "win":
            return
        if self.mode in ("wine", "qemu-wine"):
            if self._root is not None:
                self._bind(directory)
            self.env["WINEPATH"] = "Z:" + str(directory).replace("/", "\\")
        else:
            self.env["PATH"] = os.pathsep.join([str(directory), self.env.get("PATH", "")])

    def command(self, exe: Path, *args: str) -> list[str]:
        if self._root is not None:
            self._bind(exe.parent)
            if self._binds != self._server_binds:
                self._boot()  # the server opens files for its clients: it must see every bound directory
            return [*self._wine_tool("wine"), str(exe.resolve()), *args]
        if self.mode == "wine":
            return [*self._wine_tool("wine"), str(exe), *args]
        return [*self._prefix, str(exe), *args]

    def host_path(self, reported: str) -> str:
        """A path an app reported, as a path on this machine (wine's Z: drive is the host root)."""
        if self.mode in ("wine", "qemu-wine") and _DRIVE.match(reported):
            win = PureWindowsPath(reported)
            if win.drive.upper() == "Z:":
                return "/" + "/".join(win.parts[1:])
        return reported
