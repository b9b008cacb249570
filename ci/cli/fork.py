"""`python -m ci plan`: the fork's build and link plan as a dry run."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ci.cli import options
from ci.core.console import console
from ci.core.errors import CiError


def _show(line: str) -> None:
    """A line as it is: paths and commands hold brackets rich would read as markup."""
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _checkout(args: argparse.Namespace) -> Path:
    from ci.runtime.fork.checkout import check_checkout
    from ci.runtime.sources import ENV_VAR, fork_checkout

    repo = fork_checkout(args.runtime_repo)
    if not repo:
        raise CiError(f"{args.command} needs the fork: pass --runtime-repo PATH or set {ENV_VAR}")
    return check_checkout(repo)


def cmd_plan(args: argparse.Namespace) -> int:
    from ci import platforms
    from ci.runtime.fork import driver as fork_build
    from ci.runtime.fork import layout as fork_layout
    from ci.runtime.fork import linkplan
    from ci.runtime.fork.checkout import require_linux_split

    checkout = _checkout(args)
    platform = platforms.get_platform(args.platform or platforms.host_rid())
    if platform.os == "linux":
        require_linux_split(checkout, platform)
    layout = fork_layout.ForkLayout(checkout, platform, args.configuration, args.libraries_configuration)
    # Off Windows, without a Visual Studio named by hand, the MSVC and SDK paths are left to the Windows host.
    deferred = platform.os == "win" and platforms.host_rid().split("-")[0] != "win" and not args.vswhere
    tools = (linkplan.deferred_windows_tools(platform.arch) if deferred
             else linkplan.find_tools(platform, args.rootfs, args.vswhere, args.windows_kits))
    out = Path(args.out or f"build/{platform.rid}/plan").resolve()
    plan = linkplan.make_plan(layout, tools, out, linkplan.sample_names())
    request = fork_build.BuildRequest(checkout, platform, args.configuration, args.libraries_configuration, args.rootfs)
    _show(f"Plan for {platform.rid} ({args.configuration}) from {checkout}: a dry run, nothing is run")
    # The build as its own runner would run it (natively unless a rootfs makes it a cross build).
    width = max(len(part.name) for part in plan.parts)
    build_host = f"win-{linkplan.BUILD_HOST_ARCH}" if platform.os == "win" else platform.rid
    _show(f"  {'build':<{width}}  {fork_build.command(request, host=build_host)}")
    if deferred:
        _show(f"  Visual Studio (MSVC link.exe and libraries) and Windows SDK paths: <...{linkplan.ON_WINDOWS_HOST}>, "
              "found there by vswhere and KitsRoot10")
    for part in plan.parts:
        linkplan.write_files(part)
        for step in part.steps:
            _show(f"  {part.name:<{width}}  {step}")
    gaps = fork_layout.missing([i for part in plan.parts for i in part.inputs], checkout)
    if gaps:
        _show(f"not built yet: {len(gaps)} inputs missing, first {gaps[0]}")
    written = sorted(path.relative_to(out).as_posix() for part in plan.parts for path in part.files)
    _show(f"wrote {len(written)} files in {out}: {', '.join(written)}")
    return 0


def _github_output(path: str | None, values: dict[str, str]) -> None:
    """Append name=value lines (a heredoc for multi-line values) to $GITHUB_OUTPUT."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        for name, value in values.items():
            out.write(f"{name}<<RUNTIME_BASE_CI_EOF\n{value}\nRUNTIME_BASE_CI_EOF\n" if "\n" in value else f"{name}={value}\n")


def cmd_fork_check(args: argparse.Namespace) -> int:
    """Whether the fork can be built for the rid: a status, never a failure (Linux waits for its split)."""
    from ci import platforms
    from ci.runtime.fork.checkout import linux_split

    checkout = _checkout(args)
    platform = platforms.get_platform(args.platform or platforms.host_rid())
    if platform.os == "linux":
        split = linux_split(checkout, platform)
        ready, status = split.ready, (f"ready: {split.reason}" if split.ready
                                      else f"blocked: the fork has no Linux split yet ({split.reason})")
    else:
        ready, status = True, f"ready: {platform.rid} builds from the fork as it is"
    console.print(f"{platform.rid}: {status}", markup=False, highlight=False, soft_wrap=True)
    _github_output(args.github_output, {"ready": str(ready).lower(), "status": status})
    return 0


def cmd_fork_cache(args: argparse.Namespace) -> int:
    """The fork build's cache key and what to cache under it, for a CI cache step."""
    from ci import platforms
    from ci.runtime.fork import driver
    from ci.runtime.fork.link import cache_paths

    checkout = _checkout(args)
    platform = platforms.get_platform(args.platform or platforms.host_rid())
    request = driver.BuildRequest(checkout, platform, args.configuration, args.libraries_configuration)
    key = f"fork-build-{request.label}-{driver.cache_key(request)}"
    base = Path(args.relative_to).resolve() if args.relative_to else None
    paths = [Path(os.path.relpath(p, base)).as_posix() if base else str(p) for p in cache_paths(request)]
    console.print(f"key: {key}", markup=False, highlight=False)
    for path in paths:
        console.print(f"  {path}", markup=False, highlight=False, soft_wrap=True)
    _github_output(args.github_output, {"key": key, "paths": "\n".join(paths)})
    return 0


def _github_output_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--github-output", metavar="FILE", default=os.environ.get("GITHUB_OUTPUT") or None,
                   help=f"also write {what} there (default: $GITHUB_OUTPUT)")


def register(sub: argparse._SubParsersAction) -> None:
    p = options.command(sub, "plan", cmd_plan, options.runtime_repo, options.platform, options.configurations,
                        options.fork_tools,
                        help="write the fork's ILC and linker response files and print every command (dry run)",
                        description="A dry run of the fork's build and link: response files and commands, nothing run.")
    p.add_argument("--out", metavar="DIR", help="where the response files go (default: build/<rid>/plan)")

    p = options.command(sub, "fork-check", cmd_fork_check, options.runtime_repo, options.platform,
                        help="is the fork ready to build for a rid? (Linux: its split) a status, exit 0",
                        description="Check the fork checkout for a rid; on Linux, whether the outplace bootstrapper "
                                    "compiles (the Linux split). Prints 'ready: ...' or 'blocked: ...'.")
    _github_output_option(p, "ready=true|false and status=...")

    p = options.command(sub, "fork-cache", cmd_fork_cache, options.runtime_repo, options.platform,
                        options.configurations, help="the fork build's cache key and the paths to cache under it",
                        description="Print the fork build's cache key (commit, changes, rid, configurations) and "
                                    "the folders of ILC/link inputs that let a rerun skip the build.")
    p.add_argument("--relative-to", metavar="DIR", help="print paths relative to DIR (the CI workspace)")
    _github_output_option(p, "key=... and paths=...")
