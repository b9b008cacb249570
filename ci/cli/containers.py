"""`python -m ci images | container-run | wine-root | crosscheck`: the container commands."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ci import platforms
from ci.cli import options
from ci.containers.images import TARGETS
from ci.core.console import console
from ci.core.errors import BadInput
from ci.platforms import Platform

BASE_IMAGE_HELP = "build on this image instead of the bootstrapped Debian"


def register(sub: argparse._SubParsersAction) -> None:
    p = options.command(sub, "images", cmd_images,
                        help="make the container images: Debian base and wheelhouse without a registry",
                        description="Build the Linux images (a debootstrap base, a wheelhouse, the Dockerfile target), "
                                    "or on a Windows engine the Windows image (containers/windows).")
    options.platforms(p, containers=True)
    p.add_argument("--target", choices=TARGETS, action="append",
                   help="Linux Dockerfile target (repeatable); default: reference")
    p.add_argument("--base-image", help=BASE_IMAGE_HELP)

    p = options.command(sub, "container-run", cmd_container_run, options.platform, options.dist,
                        help="run a nox session in the platform's container: container-run package -- ARGS",
                        description="Run a nox session in the platform's container on a snapshot of this checkout.")
    p.add_argument("--target", choices=TARGETS, default="reference", help="Dockerfile target (default: reference)")
    p.add_argument("--base-image", help=BASE_IMAGE_HELP)
    p.add_argument("session", help="the nox session to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="passed to the session after `--`")

    p = options.command(sub, "wine-root", cmd_wine_root,
                        help="make the arm64 Debian root with Wine where win-arm64 apps run here (as root)",
                        description="Bootstrap the Debian root with Wine that runs win-arm64 apps under qemu-user; "
                                    "cached, so only the first run pays for it.")
    options.platform(p)

    p = options.command(sub, "crosscheck", cmd_crosscheck, options.as_json,
                        help="package on this machine and in the container; the bytes must match",
                        description="Package here and in the container from one snapshot and compare the bytes.")
    options.platforms(p, containers=True)
    p.add_argument("--work", default="build/crosscheck", help="where both builds and crosscheck.json go, per rid")


def _with_containers(rids: list[str] | None) -> list[Platform]:
    """The platforms named; of 'all', those with Linux containers (a Windows container needs a
    Windows engine: named, it is tried, and the engine says if it cannot)."""
    selected = platforms.select(rids)
    return [p for p in selected if p.os == "linux"] if rids and "all" in rids else selected


def cmd_images(args: argparse.Namespace) -> int:
    from ci.containers.engine import ensure_image, image_size

    for platform in _with_containers(args.platform):
        for target in args.target or ["reference"]:
            started = time.perf_counter()
            image = ensure_image(platform, target, args.base_image)  # Windows: one image, no targets
            console.print(f"{'built' if image.built else 'up to date'}: {image.tag} "
                          f"({image_size(image.tag) / 2**20:.0f} MiB, {time.perf_counter() - started:.1f}s)")
    return 0


def cmd_container_run(args: argparse.Namespace) -> int:
    from ci.containers.engine import run_session

    platform = platforms.get_platform(args.platform or platforms.host_rid())
    return run_session(platform, args.session, args.args, dist=Path(args.dist), target=args.target, base=args.base_image)


def cmd_wine_root(args: argparse.Namespace) -> int:
    from ci.containers.images import wine_root

    platform = platforms.get_platform(args.platform or "win-arm64")
    if platform.os != "win":
        raise BadInput(f"--platform {platform.rid}: a Wine root is for Windows platforms")
    started = time.perf_counter()
    root = wine_root(platform.arch)
    console.print(f"{platform.rid}: {root} ({time.perf_counter() - started:.1f}s)", markup=False)
    return 0


def cmd_crosscheck(args: argparse.Namespace) -> int:
    from ci.containers.crosscheck import crosscheck, explanation

    results = [crosscheck(p, Path(args.work) / p.rid) for p in _with_containers(args.platform)]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            console.print(f"{result['rid']}: {'identical' if result['identical'] else 'DIFFERENT'} "
                          f"(host: {result['host']}, container: {result['container']})", markup=False)
            for line in explanation(result):
                console.print(f"  {line}", markup=False, soft_wrap=True)
    return 0 if all(r["identical"] for r in results) else 1


