"""`python -m ci pipeline | build | package | apps | verify | share | smoke | matrix`: the stages,
one at a time or all together."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ci import platforms
from ci.cli import options
from ci.core.console import console
from ci.core.errors import BAD_INPUT
from ci.pipeline import CHECKS, DEFAULT_CHECKS

if TYPE_CHECKING:
    from ci.checks.apps import AppSet
    from ci.runtime.sources import ForkSource, ReferenceSource


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2))


def _finish(result: dict, as_json: bool, lines: list[str], problems: list[str], closing: str) -> int:
    """Print a check's result as JSON or as lines with its problems; exit 1 when it failed."""
    if as_json:
        _print_json(result)
    else:
        # Plain lines need no rich (a quick verify should not pay for importing it).
        print("\n".join(lines), end="\n" if lines else "", flush=True)
        if problems:
            from rich.text import Text

            for problem in problems:
                console.print(Text.assemble(("problem ", "red"), problem), soft_wrap=True)
        print(closing, flush=True)
    return 0 if result["ok"] else 1


@contextlib.contextmanager
def _runtime_source(args: argparse.Namespace, title: str) -> Iterator[ReferenceSource | ForkSource]:
    """The source the options name, with a live line while a fork build runs."""
    from ci.runtime.fork import driver
    from ci.runtime.fork.link import ForkOptions
    from ci.runtime.sources import runtime_source

    with driver.watching(title) as watch:
        fork = ForkOptions(args.libraries_configuration, getattr(args, "force", False), getattr(args, "timeout", None),
                           args.rootfs, getattr(args, "image", None), watch=watch, vswhere=args.vswhere,
                           windows_kits=args.windows_kits)
        yield runtime_source(args.runtime_repo, options=fork)


def cmd_pipeline(args: argparse.Namespace) -> int:
    from ci.core.lock import locked
    from ci.core.proc import TOOL_SECONDS
    from ci.pipeline import Layout, run_platform, run_platforms
    from ci.report import StageResult, publish_summary, table, write_report
    from ci.runtime.sources import ReferenceSource

    started = time.perf_counter()
    selected = platforms.select(args.platform)
    with _runtime_source(args, "fork build") as source:
        description = source.describe()
        rids = ", ".join(p.rid for p in selected)
        first = (f"Checking the Runtime.Base packages in {args.dist} for {rids}" if args.from_dist
                 else f"Packaging Runtime.Base: {description} for {rids}")
        console.print(first, markup=False, soft_wrap=True)
        layout = Layout(Path(args.build_dir), Path(args.dist))
        checks = tuple(c for c in CHECKS if c in (args.check or DEFAULT_CHECKS))
        # The fork builds in its own checkout's artifacts/, one platform at a time.
        jobs = args.jobs if isinstance(source, ReferenceSource) else 1
        results: list[StageResult] = run_platforms(
            selected, jobs, lambda platform: run_platform(platform, layout, args.configuration, checks,
                                                               from_dist=args.from_dist, source=source))
    with locked(layout.dist):  # not while another run swaps dist/
        report = write_report(layout.report(), description, results, time.perf_counter() - started,
                              TOOL_SECONDS)
    console.print(table(results))
    publish_summary(results)
    console.print(f"report: {layout.report()}")
    return 0 if report["ok"] else 1


def cmd_build(args: argparse.Namespace) -> int:
    platform = platforms.get_platform(args.platform or platforms.host_rid())
    out_dir = Path(args.out or f"{args.build_dir}/{platform.rid}/runtime")
    with _runtime_source(args, f"build {platform.rid}") as source:
        out, rebuilt = source.build(platform, out_dir, args.configuration)
    console.print(f"{'built' if rebuilt else 'up to date'}: {out.root / out.library}", markup=False)
    return 0


def cmd_package(args: argparse.Namespace) -> int:
    from ci.redist.package import package

    if args.previous:  # before anything is written: a breaking build without a major bump is no package
        from ci.release.abi import require_compatible

        report = require_compatible(args.previous, args.build)
        verdicts = ", ".join(f"{r['rid']} {r['verdict']}" for r in report["results"])
        console.print(f"ABI against {args.previous}: {verdicts}", markup=False, soft_wrap=True)
    pkg = package(Path(args.build), Path(args.dist))
    console.print(f"{'packaged' if pkg.rebuilt else 'up to date'}: {pkg.archive} {pkg.symbols}", markup=False)
    return 0


def cmd_apps(args: argparse.Namespace) -> int:
    from ci.checks.apps import build_apps
    from ci.checks.twins import build_twins

    platform = platforms.get_platform(args.platform or platforms.host_rid())
    app_set, rebuilt = build_apps(platform, Path(args.package), Path(args.out))
    if args.twins:
        rebuilt = build_twins(platform, app_set, Path(args.twins))[1] or rebuilt
    console.print(f"{'linked' if rebuilt else 'up to date'}: {len(app_set.apps)} binaries in {app_set.root}",
                  markup=False)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from ci.checks.verify import verify

    result = verify(Path(args.runtime), [Path(a) for a in args.app])
    problems = [f"{v['app']}: {v['symbol'] or '-'}: {v['problem']}" for v in result["violations"]]
    unsupported = [f"{u['app']}: not an ELF or PE binary: {u['format']} (not checked)" for u in result["unsupported"]]
    if unsupported:
        print("\n".join(unsupported), file=sys.stderr, flush=True)
    code = _finish(result, args.json, result["notes"], problems,
                   f"{len(result['apps'])} binaries checked, {len(result['violations'])} violations"
                   + (f", {len(unsupported)} not checked (format)" if unsupported else ""))
    # Violations fail the check (1); files it could not read at all are bad input (2).
    return BAD_INPUT if unsupported and not result["violations"] else code


def _ready_to_run(app_set: AppSet) -> AppSet:
    from ci.containers.images import prepare_runner

    prepare_runner(platforms.get_platform(app_set.rid))
    return app_set


def cmd_share(args: argparse.Namespace) -> int:
    from ci.checks.apps import read_app_set
    from ci.checks.share import measure

    result = measure(_ready_to_run(read_app_set(Path(args.apps))))
    lines = [f"{p['app']:>12} pid {p['pid']}: {p['copies']} copy, rss {p['rss_kib']} KiB, "
             f"pss {p['pss_kib']} KiB, text shared {p['text_shared_kib']} KiB" for p in result["processes"]]
    return _finish(result, args.json, lines, result["problems"],
                   f"PSS saved versus private copies: {result['pss_saved_kib']} KiB")


def cmd_smoke(args: argparse.Namespace) -> int:
    from ci.checks.apps import read_app_set
    from ci.checks.smoke import smoke

    result = smoke(_ready_to_run(read_app_set(Path(args.apps))))
    lines = [f"{r['app']:>12}: {r['how']}, exit {r['exit']}, {r['seconds']:.2f}s" for r in result["results"]]
    return _finish(result, args.json, lines, result["problems"], f"{result['rid']}: {result['how']}")


def cmd_matrix(args: argparse.Namespace) -> int:
    from ci.platforms.matrix import matrix

    print(json.dumps(matrix(), separators=(",", ":")))
    return 0


def _jobs(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return int(value)


def register(sub: argparse._SubParsersAction) -> None:
    p = options.command(sub, "pipeline", cmd_pipeline, options.platforms, options.configurations,
                        options.runtime_repo, options.fork_tools, options.build_dir, options.dist,
                        help="build, package, apps, verify and share (what `nox -s package` runs)",
                        description="Build Runtime.Base, package it, link the apps against the package and check them.")
    p.add_argument("--check", action="append", choices=CHECKS,
                   help="checks after build/package/apps (repeatable); default: verify and share")
    p.add_argument("--from-dist", action="store_true",
                   help="use the package already in --dist (checked against SHA256SUMS) instead of building one")
    p.add_argument("--jobs", type=_jobs, default=os.cpu_count() or 1, metavar="N",
                   help="platforms run at once with --platform all or several (default: the number of cores)")

    p = options.command(sub, "build", cmd_build, options.platform, options.configurations, options.runtime_repo,
                        options.fork_tools, options.build_dir,
                        help="build the runtime: the reference runtime, or the fork with --runtime-repo",
                        description="Build Runtime.Base (what `nox -s build` runs). From the fork: its build "
                                    "(cached by a key over commit, changes and configurations), then the link.")
    p.add_argument("--out", metavar="DIR", help="build output directory (default: BUILD_DIR/<rid>/runtime)")
    p.add_argument("--force", action="store_true", help="the fork: rebuild even if nothing changed since the last success")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="the fork: seconds its build may take")
    p.add_argument("--image", help="the fork: container image id the build runs in (part of the cache key)")

    p = options.command(sub, "package", cmd_package, options.dist,
                        help="build output -> archives, manifest, SHA256SUMS",
                        description="Package a build output as a reproducible redistributable.")
    p.add_argument("--build", required=True, metavar="DIR", help="build output directory (with build.json)")
    p.add_argument("--previous", metavar="OLD", help="the previous release (see `abi --old`): refuse a breaking "
                                                     "ABI change without a major version bump")

    p = options.command(sub, "apps", cmd_apps, options.platform,
                        help="link the sample apps against a package archive",
                        description="Unpack a package and link the sample apps against it, and only it.")
    p.add_argument("--package", required=True, metavar="ARCHIVE", help="runtime-base-<version>-<rid> archive")
    p.add_argument("--out", required=True, metavar="DIR", help="the app set's directory")
    p.add_argument("--twins", metavar="DIR",
                   help="also link every app self-contained there, each with a private runtime (reference runtime only)")

    p = options.command(sub, "verify", cmd_verify, options.as_json,
                        help="static checks: apps import the runtime, never embed it",
                        description="Check that every app imports Runtime.Base and embeds no copy of it.")
    p.add_argument("--runtime", required=True, metavar="LIBRARY", help="the Runtime.Base library")
    p.add_argument("--app", action="append", required=True, metavar="BINARY",
                   help="an app or plugin, or a directory of them (repeatable)")

    options.command(sub, "share", cmd_share, options.app_set, options.as_json,
                    help="run all apps at once and prove they share one runtime copy",
                    description="Run the app set at once and read each process's mappings.")

    options.command(sub, "smoke", cmd_smoke, options.app_set, options.as_json,
                    help="run every app on the target (native, qemu-user, wine or qemu-user + wine arm64) and check it",
                    description="Run every app of an app set on its target and check its report.")

    options.command(sub, "matrix", cmd_matrix, help="print the GitHub Actions matrix JSON from the platform list",
                    description="The GitHub Actions matrix, computed from ci/platforms.")

