"""`python -m ci plan|fork-build`: the fork's link plan as a dry run, and Runtime.Base built from the fork."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .errors import CiError
from .report import console


def _add_fork_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime-repo", default=os.environ.get("RUNTIME_REPO"),
                   help="checkout of the split-runtime fork (default: $RUNTIME_REPO)")
    p.add_argument("--platform", help="rid; default: this machine's")
    p.add_argument("--configuration", default="Debug", choices=["Debug", "Release", "Checked"],
                   help="runtime configuration (-rc)")
    p.add_argument("--libraries-configuration", default="Release", choices=["Debug", "Release"], help="-lc")
    p.add_argument("--rootfs", type=Path, default=os.environ.get("ROOTFS_DIR"),
                   help="cross builds: the target's root file system (default: $ROOTFS_DIR)")
    p.add_argument("--vswhere", type=Path, help="Windows: vswhere.exe (default: the Visual Studio Installer's)")
    p.add_argument("--windows-kits", type=Path, help="Windows: the Windows Kits 10 folder (default: from the registry)")


def _checkout(args: argparse.Namespace) -> Path:
    from .runtime import fork

    if not args.runtime_repo:
        raise CiError(f"{args.command} needs the fork: pass --runtime-repo PATH or set {fork.ENV_VAR}")
    return fork.check_checkout(args.runtime_repo)


def cmd_plan(args: argparse.Namespace) -> int:
    from . import linkplan, platforms
    from .runtime import fork, fork_build, fork_layout

    checkout = _checkout(args)
    platform = platforms.get_platform(args.platform or platforms.host_rid())
    if platform.os == "linux":
        fork.require_linux_split(checkout, platform)
    layout = fork_layout.ForkLayout(checkout, platform, args.configuration, args.libraries_configuration)
    tools = linkplan.find_tools(platform, args.rootfs, args.vswhere, args.windows_kits)
    out = Path(args.out or f"build/{platform.rid}/plan").resolve()
    plan = linkplan.make_plan(layout, tools, out, linkplan.sample_names())
    request = fork_build.BuildRequest(checkout, platform, args.configuration, args.libraries_configuration, args.rootfs)
    show = {"markup": False, "highlight": False, "soft_wrap": True}
    console.print(f"Plan for {platform.rid} ({args.configuration}) from {checkout}: a dry run, nothing is run", **show)
    # The build as its own runner would run it (natively unless a rootfs makes it a cross build).
    width = max(len(part.name) for part in plan.parts)
    console.print(f"  {'build':<{width}}  {fork_build.command(request, host=platform.rid)}", **show)
    for part in plan.parts:
        linkplan.write_files(part)
        for step in part.steps:
            console.print(f"  {part.name:<{width}}  {step}", **show)
    gaps = fork_layout.missing([i for part in plan.parts for i in part.inputs], checkout)
    if gaps:
        console.print(f"not built yet: {len(gaps)} inputs missing, first {gaps[0]}", **show)
    written = sorted(path.relative_to(out).as_posix() for part in plan.parts for path in part.files)
    console.print(f"wrote {len(written)} files in {out}: {', '.join(written)}", **show)
    return 0


def cmd_fork_build(args: argparse.Namespace) -> int:
    from . import platforms
    from .runtime import fork, fork_build

    checkout = _checkout(args)
    platform = platforms.get_platform(args.platform or platforms.host_rid())
    out_dir = Path(args.out or f"build/{platform.rid}/runtime")
    with fork_build.watching(f"fork build {platform.rid}") as watch:
        options = fork.ForkOptions(args.libraries_configuration, args.force, args.timeout, args.rootfs, args.image,
                                   watch=watch, vswhere=args.vswhere, windows_kits=args.windows_kits)
        out, rebuilt = fork.build(checkout, platform, out_dir, args.configuration, options)
    console.print(f"{'built' if rebuilt else 'up to date'}: {out.root / out.library}", markup=False)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="write the fork's ILC and linker response files and print every command (dry run)")
    _add_fork_options(p)
    p.add_argument("--out", help="where the response files go (default: build/<rid>/plan)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("fork-build", help="build the fork (cached) and link Runtime.Base into a build output")
    _add_fork_options(p)
    p.add_argument("--out", help="build output directory (default: build/<rid>/runtime, where the pipeline keeps it)")
    p.add_argument("--force", action="store_true", help="rebuild even if nothing changed since the last success")
    p.add_argument("--timeout", type=float, help="seconds the fork's build may take")
    p.add_argument("--image", help="container image id the build runs in (part of the cache key)")
    p.set_defaults(func=cmd_fork_build)
