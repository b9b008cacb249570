"""Run a target binary on this machine: natively, under qemu-user, or under wine.

A Runner is entered once per stage, so wine keeps one wineserver (and one prefix, cached on
the machine) for all the runs in it instead of paying its start-up for each.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path, PureWindowsPath

from ci.core.cache import cache_dir
from ci.core.errors import CiError
from ci.core.proc import run
from ci.platforms import Platform
from ci.platforms.arch import arch

WINE_DIRS = (Path("/usr/lib/wine"), Path("/usr/lib64/wine"), Path("/opt/wine-stable/bin"))
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def _find(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or next((str(d / name) for d in WINE_DIRS if (d / name).is_file()), None)
        if found:
            return found
    raise CiError(f"{names[0]}: not found (install it, see README 'Prerequisites')")


class Runner:
    def __init__(self, platform: Platform):
        self.platform = platform
        self.mode = platform.run_mode
        self.env = dict(os.environ)
        self._prefix: list[str] = []

    def __enter__(self) -> Runner:
        if self.mode == "qemu-user":
            qemu = _find(arch(self.platform.arch).qemu)
            self._prefix = [qemu, "-L", str(self.platform.sysroot)]
        elif self.mode == "wine":
            self._start_wine()
        elif self.mode == "none":
            raise CiError(f"{self.platform.rid}: cannot run here (needs a {self.platform.runner} runner)")
        return self

    def _start_wine(self) -> None:
        self.env.update(WINEPREFIX=str(cache_dir() / f"wine-{self.platform.arch}"), WINEDEBUG="-all",
                        WINEDLLOVERRIDES="mscoree,mshtml=")  # no Mono/Gecko install prompts
        Path(self.env["WINEPREFIX"]).mkdir(parents=True, exist_ok=True)
        self._prefix = [_find("wine64", "wine")]
        # A persistent server for the stage, so later runs skip wine's start-up; a server left
        # behind by an interrupted run would make `-p` fail, so it goes first.
        run([_find("wineserver"), "-k"], env=self.env, quiet=True)
        self._start_daemon([_find("wineserver"), "-p"])
        try:
            self._start_daemon([*self._prefix, "wineboot", "-i"])
        except BaseException:
            self.__exit__()  # __exit__ is not called when __enter__ fails: stop the server here
            raise

    def _start_daemon(self, argv: list[str]) -> None:
        """Run a wine command that leaves daemons behind holding its stdout: capturing would never end."""
        done = run(argv, env=self.env, quiet=True)
        if done.returncode != 0:
            raise CiError(f"{' '.join(argv)} failed (exit {done.returncode}) for WINEPREFIX={self.env['WINEPREFIX']}")

    def __exit__(self, *exc: object) -> None:
        if self.mode == "wine":
            run([_find("wineserver"), "-k"], env=self.env, quiet=True)

    def add_library_dir(self, directory: Path) -> None:
        """Let Windows binaries find DLLs in `directory` (ELF binaries carry a RUNPATH instead)."""
        if self.platform.os != "win":
            return
        if self.mode == "wine":
            self.env["WINEPATH"] = "Z:" + str(directory).replace("/", "\\")
        else:
            self.env["PATH"] = os.pathsep.join([str(directory), self.env.get("PATH", "")])

    def command(self, exe: Path, *args: str) -> list[str]:
        return [*self._prefix, str(exe), *args]

    def host_path(self, reported: str) -> str:
        """A path an app reported, as a path on this machine (wine's Z: drive is the host root)."""
        if self.mode == "wine" and _DRIVE.match(reported):
            win = PureWindowsPath(reported)
            if win.drive.upper() == "Z:":
                return "/" + "/".join(win.parts[1:])
        return reported
