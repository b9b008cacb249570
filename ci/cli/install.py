"""`install`, `uninstall`: packages side by side under a root; `doctor APP`: where the app's
runtime would be found, and whether it would start."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ci.cli import options
from ci.core.errors import CHECK_FAILED, OK, BadInput


def _root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", required=True, type=Path, metavar="R",
                   help="the install root: packages go to R/shared/Runtime.Base/<version>/")


def cmd_install(args: argparse.Namespace) -> int:
    from ci.redist import install

    if args.list:
        for item in install.installed(args.root):
            print(item.line)
        return OK
    if args.package is None:
        raise BadInput("install: --package P is required (or --list)")
    done = install.install(args.package, args.root)
    print(f"installed {done.line}")
    if args.register:
        print(f"registered {args.root / install.LIB} in {install.register(args.root, args.sysconfdir)}")
    return OK


def cmd_uninstall(args: argparse.Namespace) -> int:
    from ci.redist import install

    install.uninstall(args.root, args.version)
    print(f"uninstalled Runtime.Base {args.version} from {args.root}")
    return OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from ci.checks import doctor

    found = doctor.diagnose(args.app, cache=args.ld_cache, sysroot=args.sysroot)
    if args.json:
        print(json.dumps(found.to_json(), indent=2))
    else:
        need = found.requirement
        print(f"{found.app}: needs {need.soname} ({', '.join(need.nodes) or 'no versioned symbols'}), {need.rid}")
        for place in found.places:
            print(f"  looked in {place.where} ({place.how}): {place.found}")
        print(found.summary)
    return OK if found.verdict == doctor.RUNS else CHECK_FAILED


def register(sub: argparse._SubParsersAction) -> None:
    p = options.command(sub, "install", cmd_install, _root,
                        help="install a package beside the versions already there",
                        description="Unpack a package to R/shared/Runtime.Base/<version>/ (never over an installed "
                                    "version) and point R/lib/libRuntime.Base.so.<major> at the highest <major>.x.")
    p.add_argument("--package", type=Path, metavar="P", help="the package archive")
    p.add_argument("--list", action="store_true", help="list the installed versions and which each major selects")
    p.add_argument("--register", action="store_true",
                   help="add R/lib to the loader's search (Linux: ld.so.conf.d and ldconfig)")
    p.add_argument("--sysconfdir", type=Path, default=Path("/etc"), metavar="ETC",
                   help="where ld.so.conf.d lives (default /etc; another one gets its own ld.so.cache)")
    p = options.command(sub, "uninstall", cmd_uninstall, _root, help="remove one installed version",
                        description="Remove R/shared/Runtime.Base/<version>/; its major's link moves to the next "
                                    "highest installed version.")
    p.add_argument("version", help="the version to remove, as --list prints it")
    p = options.command(sub, "doctor", cmd_doctor, options.as_json,
                        help="where an app's runtime would be found, without running it",
                        description="Read the app's Runtime.Base requirement and walk the loader's search order: "
                                    "every place looked, what is there, and the verdict (exit 0: it would start, "
                                    "1: missing or too old, 2: bad input).")
    p.add_argument("app", type=Path, help="the app (an ELF executable or shared library)")
    p.add_argument("--ld-cache", type=Path, default=Path("/etc/ld.so.cache"), metavar="FILE",
                   help="the loader's cache (default /etc/ld.so.cache)")
    p.add_argument("--sysroot", type=Path, metavar="DIR",
                   help="the target's root, as qemu-user -L (default: the platform's for a foreign app)")
