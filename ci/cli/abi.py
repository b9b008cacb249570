"""`python -m ci abi --old OLD --new NEW`: the ABI changes between two releases, and their verdict."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from rich.table import Table

from ci.cli import options
from ci.core.console import console

SIDE_HELP = "a package archive, a dist directory, an unpacked package, a build output, or OWNER/REPO@TAG"


def _table(report: dict) -> Table:
    view = Table(title=f"ABI: {report['old']} -> {report['new']}")
    for column in ("Platform", "Versions", "Verdict", "Added", "Removed", "Kind/version", "Ordinals", "Types"):
        view.add_column(column, overflow="fold")
    for r in report["results"]:
        e, types = r["exports"], r["types"]
        view.add_row(r["rid"], f"{r['old']['version']} -> {r['new']['version']}", r["verdict"],
                     ", ".join(e["added"]) or "-", ", ".join(e["removed"]) or "-",
                     str(len(e["kind_changed"]) + len(e["version_changed"])), str(len(e["ordinal_changed"])),
                     ("changed" if types["changed"] else "same") if types["compared"] else "not compared")
    return view


def cmd_abi(args: argparse.Namespace) -> int:
    from ci.release import abi

    with tempfile.TemporaryDirectory(prefix="runtime-base-abi.") as work:
        report = abi.diff(args.old, args.new, Path(work))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        console.print(_table(report))
        for result in report["results"]:
            if result["types"]["changed"]:
                console.print(result["types"]["report"], markup=False)
        for problem in (p for r in report["results"] for p in r["problems"]):
            console.print(f"problem {problem}", markup=False, soft_wrap=True)
    return 0 if report["ok"] else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = options.command(sub, "abi", cmd_abi, options.as_json,
                        help="ABI diff between two releases; fails on a break without a major version bump",
                        description="Compare exports (names, kinds, symbol versions, PE ordinals) and, for ELF with "
                                    "split symbols, types (abidiff) between two releases of Runtime.Base.")
    p.add_argument("--old", required=True, metavar="OLD", help=f"the earlier release: {SIDE_HELP}")
    p.add_argument("--new", required=True, metavar="NEW", help=f"the later release: {SIDE_HELP}")
