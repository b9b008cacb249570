"""`python -m ci publish|fetch|provenance`: argparse registration, and how results are shown."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from ci.cli import options
from ci.core.console import append_job_summary, console, in_github_actions
from ci.core.secrets import redact

if TYPE_CHECKING:
    from ci.release.publish import ProgressFactory

_ERR = Console(stderr=True, highlight=False)


def _print_json(data: object) -> None:
    print(redact(json.dumps(data, indent=2)))


def _say(message: str, out: Console = console) -> None:
    """One log line, redacted, never read as markup."""
    out.print(redact(message), markup=False, soft_wrap=True)


def _plain_progress(name: str, size: int) -> Callable[[int], None]:
    """Log lines (CI): one at each quarter of the file."""
    shown = [0]

    def update(sent: int) -> None:
        quarter = sent * 4 // max(size, 1)
        if quarter > shown[0]:
            shown[0] = quarter
            console.print(f"  {name}: {quarter * 25}% of {size} bytes", markup=False, soft_wrap=True)
    return update


@contextmanager
def _display(quiet: bool) -> Iterator[tuple[ProgressFactory | None, Callable[[str], None]]]:
    """(progress factory, log): a live bar on a terminal, plain lines in CI, nothing but stderr logs for --json."""
    if quiet:
        yield None, lambda message: _say(message, _ERR)
    elif console.is_terminal and not in_github_actions():
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=console) as bar:
            def track(name: str, size: int) -> Callable[[int], None]:
                task = bar.add_task(name, total=size)
                return lambda sent: bar.update(task, completed=sent)
            yield track, lambda message: _say(message, bar.console)
    else:
        yield _plain_progress, _say


def _table(result: dict) -> Table:
    from ci.release.publish import DESCRIPTIONS

    title = f"{result['repo']} {result['tag']}" + (" (dry run)" if result["dry_run"] else "")
    view = Table(title=title)
    view.add_column("Asset", overflow="fold")  # a release's file names must show whole
    view.add_column("Size", justify="right")
    view.add_column("Action")
    for asset in result["assets"]:
        view.add_row(asset["name"], str(asset["size"]), f"{asset['action']}: {DESCRIPTIONS[asset['action']]}")
    return view


def _markdown(result: dict) -> str:
    rows = [f"## Release {result['tag']}{' (dry run)' if result['dry_run'] else ''}", "",
            f"{result['release_url'] or 'no release yet'}; steps: {', '.join(result['release_steps']) or 'none'}",
            "", "| Asset | Size | Action |", "| --- | ---: | --- |"]
    rows += [f"| {a['name']} | {a['size']} | {a['action']} |" for a in result["assets"]]
    return "\n".join(rows) + "\n"


def cmd_publish(args: argparse.Namespace) -> int:
    from ci.release.publish import publish

    with _display(args.json) as (progress, log):
        result = publish(Path(args.dist), args.repo, args.tag, dry_run=args.dry_run, replace=args.replace,
                         progress=progress, log=log, previous=args.previous)
    if args.json:
        _print_json(result)
    else:
        console.print(_table(result))
        steps = ", ".join(result["release_steps"]) or "nothing to do"
        done = "plan" if args.dry_run else "done"
        url = result["release_url"] or "(none yet)"
        _say(f"release: {url}; {done}: {steps}")
        console.print("requests: " + ", ".join(f"{m} {n}" for m, n in result["requests"].items()), markup=False)
    append_job_summary(redact(_markdown(result)))
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from ci.release.fetch import fetch

    result = fetch(args.repo, args.tag, args.rid, Path(args.dest))
    if args.json:
        _print_json(result)
    else:
        _say(f"fetched {result['archive']} (sha256 {result['sha256']}) into {result['dest']}")
    return 0


def cmd_push_nuget(args: argparse.Namespace) -> int:
    from ci.release.nuget_push import push

    log = (lambda message: _say(message, _ERR)) if args.json else _say
    pushed = push(Path(args.dist), args.source, log=log)
    result = {"source": redact(args.source), "packages": [asdict(p) for p in pushed]}
    if args.json:
        _print_json(result)
    else:
        view = Table(title=f"NuGet push to {result['source']}")
        for column in ("Package", "sha256", "Action"):
            view.add_column(column, overflow="fold")
        for p in pushed:
            view.add_row(p.name, p.sha256[:16], p.action)
        console.print(view)
    rows = ["## NuGet push", "", "| Package | Action |", "| --- | --- |", *(f"| {p.name} | {p.action} |" for p in pushed)]
    append_job_summary(redact("\n".join(rows) + "\n"))
    return 0


def cmd_provenance(args: argparse.Namespace) -> int:
    from ci.release.provenance import write_provenance

    console.print(f"provenance: {write_provenance(Path(args.dist))}", markup=False, soft_wrap=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the release subcommands to `python -m ci`."""
    p = options.command(sub, "publish", cmd_publish, options.dist, options.release, options.as_json,
                        help="publish dist/ as a GitHub release: draft, upload, verify, publish",
                        description="Publish dist/ as a GitHub release; a rerun resumes and never duplicates.")
    p.add_argument("--dry-run", action="store_true", help="list releases and assets, print the plan, write nothing")
    p.add_argument("--replace", action="store_true", help="overwrite draft assets whose content differs")
    p.add_argument("--previous", metavar="OLD", help="the previous release (see `abi --old`): refuse a breaking ABI "
                                                     "change without a major version bump; list the changes in the notes")

    p = options.command(sub, "fetch", cmd_fetch, options.release, options.as_json,
                        help="download a rid's package from a release, check SHA256SUMS, unpack it",
                        description="Download one rid's package from a release, check it and unpack it.")
    p.add_argument("--rid", required=True, help="the package's rid")
    p.add_argument("--dest", required=True, help="directory to unpack into (must not exist or be empty)")

    p = options.command(sub, "push-nuget", cmd_push_nuget, options.dist, options.as_json,
                        help="push dist/'s .nupkg files to a NuGet feed (dotnet nuget push --skip-duplicate)",
                        description="Push the .nupkg files SHA256SUMS lists, each checked, with the real NuGet "
                                    "client; the API key is read from $NUGET_API_KEY. A rerun pushes nothing twice.")
    p.add_argument("--source", required=True,
                   help="the feed: a v3 index URL, a folder, or a source named in NuGet.Config")

    options.command(sub, "provenance", cmd_provenance, options.dist,
                    help="write dist/provenance.intoto.json (SLSA provenance for SHA256SUMS)",
                    description="SLSA v1 provenance (in-toto) for the files SHA256SUMS lists.")
