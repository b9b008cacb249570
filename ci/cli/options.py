"""The one options builder: an option that several commands take has one name, one default and
one help text, defined here."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from ci.runtime.output import (
    DEFAULT_CONFIGURATION,
    DEFAULT_LIBRARIES_CONFIGURATION,
    LIBRARIES_CONFIGURATIONS,
    RUNTIME_CONFIGURATIONS,
)


def platforms(p: argparse.ArgumentParser, containers: bool = False) -> None:
    which = "rid with a container (Linux; win-x64 on a Windows engine)" if containers else "rid"
    p.add_argument("--platform", action="append", metavar="RID",
                   help=f"{which} (repeatable) or 'all'; default: this machine's")


def platform(p: argparse.ArgumentParser) -> None:
    p.add_argument("--platform", metavar="RID", help="rid; default: this machine's")


def configurations(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configuration", default=DEFAULT_CONFIGURATION, choices=RUNTIME_CONFIGURATIONS,
                   help=f"runtime configuration (the fork's -rc; default {DEFAULT_CONFIGURATION})")
    p.add_argument("--libraries-configuration", default=DEFAULT_LIBRARIES_CONFIGURATION,
                   choices=LIBRARIES_CONFIGURATIONS,
                   help=f"the fork's libraries configuration (-lc; default {DEFAULT_LIBRARIES_CONFIGURATION})")


def runtime_repo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime-repo", metavar="PATH",  # $RUNTIME_REPO: read by ci.runtime.sources
                   help="checkout of the split-runtime fork (default: $RUNTIME_REPO; neither: the reference runtime)")


def fork_tools(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rootfs", type=Path, default=os.environ.get("ROOTFS_DIR") or None,
                   help="cross builds: the target's root file system (default: $ROOTFS_DIR)")
    p.add_argument("--vswhere", type=Path, help="Windows: vswhere.exe (default: the Visual Studio Installer's)")
    p.add_argument("--windows-kits", type=Path, help="Windows: the Windows Kits 10 folder (default: from the registry)")


def dist(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dist", default="dist", metavar="DIR", help="the packages' directory (default: dist)")


def build_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--build-dir", default="build", metavar="DIR",
                   help="build outputs and app sets, per rid (default: build)")


def app_set(p: argparse.ArgumentParser) -> None:
    p.add_argument("--apps", required=True, metavar="DIR", help="app set directory written by the apps stage")


def as_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of lines")


def release(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo", required=True, metavar="OWNER/NAME", help="the repository on GitHub")
    p.add_argument("--tag", required=True, help="the release's tag, e.g. v10.0.0")


def command(sub: argparse._SubParsersAction, name: str, func: Callable[[argparse.Namespace], int],
            *uses: Callable[[argparse.ArgumentParser], None], help: str, description: str) -> argparse.ArgumentParser:
    """A subcommand: its parser, the shared options it takes (builders of this module), its function."""
    p = sub.add_parser(name, help=help, description=description)
    for use in uses:
        use(p)
    p.set_defaults(func=func)
    return p
