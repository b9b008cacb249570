"""`python -m ci plan`: the fork's build and link plan as a dry run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ci.cli import options
from ci.core.errors import CiError
from ci.core.console import console


def _checkout(args: argparse.Namespace) -> Path:
    from ci.runtime.fork.checkout import check_checkout
    from ci.runtime.sources import ENV_VAR

    if not args.runtime_repo:
        raise CiError(f"{args.command} needs the fork: pass --runtime-repo PATH or set {ENV_VAR}")
    return check_checkout(args.runtime_repo)


def cmd_plan(args: argparse.Namespace) -> int:
    from ci.runtime.fork import linkplan
    from ci import platforms
    from ci.runtime.fork import driver as fork_build
    from ci.runtime.fork import layout as fork_layout
    from ci.runtime.fork.checkout import require_linux_split

    checkout = _checkout(args)
    platform = platforms.get_platform(args.platform or platforms.host_rid())
    if platform.os == "linux":
        require_linux_split(checkout, platform)
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="write the fork's ILC and linker response files and print every command (dry run)",
                       description="A dry run of the fork's build and link: response files and commands, nothing run.")
    options.runtime_repo(p)
    options.platform(p)
    options.configurations(p)
    options.fork_tools(p)
    p.add_argument("--out", metavar="DIR", help="where the response files go (default: build/<rid>/plan)")
    p.set_defaults(func=cmd_plan)
