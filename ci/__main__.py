"""python -m ci <stage>: every stage without nox, and the whole pipeline."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import platforms
from rich.text import Text

from .errors import CiError
from .fsutil import atomic_write_text
from .report import StageResult, console, publish_summary, table, write_report
from .tools import TOOL_SECONDS


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2))


def _finish(result: dict, as_json: bool, lines: list[str], problems: list[str], closing: str) -> int:
    """Print a check's result as JSON or as lines with its problems; exit 1 when it failed."""
    if as_json:
        _print_json(result)
    else:
        for line in lines:
            console.print(line, markup=False)
        for problem in problems:
            console.print(Text.assemble(("problem ", "red"), problem), soft_wrap=True)
        console.print(closing, markup=False)
    return 0 if result["ok"] else 1


def cmd_pipeline(args: argparse.Namespace) -> int:
    from .pipeline import CHECKS, DEFAULT_CHECKS, Layout, run_platform
    from .runtime.fork import runtime_source

    started = time.perf_counter()
    selected = platforms.select(args.platform)
    source = runtime_source(args.runtime_repo)
    description = source.describe()
    rids = ", ".join(p.rid for p in selected)
    first = (f"Checking the Runtime.Base packages in {args.dist} for {rids}" if args.from_dist
             else f"Packaging Runtime.Base: {description} for {rids}")
    console.print(first, markup=False, soft_wrap=True)
    layout = Layout(Path(args.build_dir), Path(args.dist))
    results: list[StageResult] = []
    for platform in selected:
        checks = tuple(c for c in CHECKS if c in (args.check or DEFAULT_CHECKS))
        results += run_platform(platform, layout, args.configuration, checks, from_dist=args.from_dist, source=source)
    report = write_report(layout.dist / "report.json", description, results, time.perf_counter() - started, TOOL_SECONDS)
    console.print(table(results))
    publish_summary(results)
    console.print(f"report: {layout.dist / 'report.json'}")
    return 0 if report["ok"] else 1


def cmd_build(args: argparse.Namespace) -> int:
    from .runtime.fork import runtime_source

    platform = platforms.get_platform(args.platform or platforms.host_rid())
    out, rebuilt = runtime_source(args.runtime_repo).build(platform, Path(args.out), args.configuration)
    console.print(f"{'built' if rebuilt else 'up to date'}: {out.root / out.library}")
    return 0


def cmd_package(args: argparse.Namespace) -> int:
    from .package import package

    pkg = package(Path(args.build), Path(args.dist))
    console.print(f"{'packaged' if pkg.rebuilt else 'up to date'}: {pkg.archive} {pkg.symbols}")
    return 0


def cmd_apps(args: argparse.Namespace) -> int:
    from .apps import build_apps

    platform = platforms.get_platform(args.platform or platforms.host_rid())
    app_set, rebuilt = build_apps(platform, Path(args.package), Path(args.out))
    console.print(f"{'linked' if rebuilt else 'up to date'}: {len(app_set.apps)} binaries in {app_set.root}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import verify

    result = verify(Path(args.runtime), [Path(a) for a in args.app])
    problems = [f"{v['app']}: {v['symbol'] or '-'}: {v['problem']}" for v in result["violations"]]
    return _finish(result, args.json, [], problems,
                   f"{len(result['apps'])} binaries checked, {len(result['violations'])} violations")


def cmd_share(args: argparse.Namespace) -> int:
    from .apps import read_app_set
    from .share import measure

    result = measure(read_app_set(Path(args.apps)))
    lines = [f"{p['app']:>12} pid {p['pid']}: {p['copies']} copy, rss {p['rss_kib']} KiB, "
             f"pss {p['pss_kib']} KiB, text shared {p['text_shared_kib']} KiB" for p in result["processes"]]
    return _finish(result, args.json, lines, result["problems"],
                   f"PSS saved versus private copies: {result['pss_saved_kib']} KiB")


def cmd_smoke(args: argparse.Namespace) -> int:
    from .apps import read_app_set
    from .smoke import smoke

    result = smoke(read_app_set(Path(args.apps)))
    lines = [f"{r['app']:>12}: {r['how']}, exit {r['exit']}, {r['seconds']:.2f}s" for r in result["results"]]
    return _finish(result, args.json, lines, result["problems"], f"{result['rid']}: {result['how']}")


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    result = bench.run([p.rid for p in platforms.select(args.platform)])
    bench.show(result)
    atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    console.print(f"benchmark results: {args.out}")
    return 0


def cmd_matrix(args: argparse.Namespace) -> int:
    from .matrix import matrix

    print(json.dumps(matrix(), separators=(",", ":")))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m ci", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    config = {"default": "Release", "choices": ["Debug", "Release"], "help": "runtime configuration"}
    repo = {"help": "checkout of the split-runtime fork (default: $RUNTIME_REPO; neither: the reference runtime)"}

    p = sub.add_parser("pipeline", help="build, package, apps, verify and share (what `nox -s package` runs)")
    p.add_argument("--platform", action="append", help="rid (repeatable) or 'all'; default: this machine's")
    p.add_argument("--configuration", **config)
    p.add_argument("--runtime-repo", **repo)
    p.add_argument("--check", action="append", choices=["verify", "share", "smoke"],
                   help="checks after build/package/apps (repeatable); default: verify and share")
    p.add_argument("--from-dist", action="store_true",
                   help="use the package already in --dist (checked against SHA256SUMS) instead of building one")
    p.add_argument("--build-dir", default="build")
    p.add_argument("--dist", default="dist")
    p.set_defaults(func=cmd_pipeline)

    p = sub.add_parser("build", help="build the runtime (the reference runtime, or the fork with --runtime-repo)")
    p.add_argument("--platform")
    p.add_argument("--configuration", **config)
    p.add_argument("--runtime-repo", **repo)
    p.add_argument("--out", required=True, help="build output directory")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("package", help="build output -> archives, manifest, SHA256SUMS")
    p.add_argument("--build", required=True, help="build output directory (with build.json)")
    p.add_argument("--dist", default="dist")
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("apps", help="link the sample apps against a package archive")
    p.add_argument("--platform")
    p.add_argument("--package", required=True, help="runtime-base-<version>-<rid> archive")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_apps)

    p = sub.add_parser("verify", help="static checks: apps import the runtime, never embed it")
    p.add_argument("--runtime", required=True, help="the Runtime.Base library")
    p.add_argument("--app", action="append", required=True, help="an app or plugin (repeatable)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("share", help="run all apps at once and prove they share one runtime copy")
    p.add_argument("--apps", required=True, help="app set directory written by the apps stage")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_share)

    p = sub.add_parser("smoke", help="run every app on the target (native, qemu-user or wine) and check it")
    p.add_argument("--apps", required=True, help="app set directory written by the apps stage")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_smoke)

    p = sub.add_parser("bench", help="time the pipeline cold and warm, tools versus Python, emulation cost")
    p.add_argument("--platform", action="append", help="rid (repeatable) or 'all'; default: this machine's")
    p.add_argument("--out", default="dist/bench.json")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("matrix", help="print the GitHub Actions matrix JSON from the platform list")
    p.set_defaults(func=cmd_matrix)

    from . import container_cli, plan_cli, publish_cli

    for module in (plan_cli, publish_cli, container_cli):
        module.register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except CiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
