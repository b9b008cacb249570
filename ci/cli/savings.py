"""`python -m ci savings`: what the split saves against self-contained twins, per platform, as a
table, dist/savings.json (schema packaging/savings.schema.json), dist/savings.svg and, on GitHub,
a Mermaid chart and table in the job summary."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from rich.table import Table
from rich.text import Text

from ci import platforms
from ci.cli import options
from ci.core.console import console


def cmd_savings(args: argparse.Namespace) -> int:
    from ci.checks.savings import CHART, SAVINGS, rows
    from ci.pipeline import Layout, run_platform
    from ci.report import Status
    from ci.runtime.sources import ReferenceSource

    layout = Layout(Path(args.build_dir), Path(args.dist))
    # With --json, stdout carries the JSON alone: the stages' progress goes to stderr.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        results = [r for p in platforms.select(args.platform)
                   for r in run_platform(p, layout, args.configuration, ("savings",), source=ReferenceSource())]
    entries = [r.details for r in results if r.stage == "savings" and "disk" in r.details]
    failed = [r for r in results if r.status == Status.FAILED]
    if args.json:
        print(json.dumps({"schema_version": 1, "platforms": {e["rid"]: e for e in entries}}, indent=2))
    else:
        for entry in entries:
            view = Table(title=f"{entry['rid']}: {entry['how']}")
            for column in ("measure", "split", "self-contained"):
                view.add_column(column, justify="left" if column == "measure" else "right")
            for row in rows(entry):
                view.add_row(*map(Text, row))
            console.print(view)
        for r in failed:
            console.print(Text.assemble((f"{r.stage} {r.rid} failed: ", "red"), r.summary), soft_wrap=True)
        console.print(f"report: {layout.dist / SAVINGS}, chart: {layout.dist / CHART}", markup=False)
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    options.command(sub, "savings", cmd_savings, options.platforms, options.configurations, options.build_dir,
                    options.dist, options.as_json, help="measure what the split saves against self-contained twins",
                    description="Build the reference runtime, package it, link the apps split and "
                                "self-contained, then compare disk, memory and in-process runtime resources.")
