"""`python -m ci toolchains`: which compiler, binutils and headers each platform's toolchain finds
on this host, and how (CI prints it at the start of every leg)."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from ci import platforms
from ci.cli import options
from ci.core import schemas
from ci.core.console import console


def register(sub: argparse._SubParsersAction) -> None:
    options.command(sub, "toolchains", cmd_toolchains, options.platforms, options.as_json,
                    help="the tools each platform's toolchain finds on this host, and how",
                    description="Locate each platform's compiler, binutils and headers on this host; "
                                "exit 1 if any is missing.")


def found(rids: list[str] | None) -> dict:
    from ci.platforms.hosttools import ToolMissing
    from ci.platforms.toolchains import locate

    result = []
    for platform in platforms.select(rids):
        try:
            tools = locate(platform.toolchain)
        except ToolMissing as missing:
            result.append({"rid": platform.rid, "ok": False, "error": missing.message, "tools": []})
            continue
        result.append({"rid": platform.rid, "ok": True,
                       "tools": [{"role": f.role, "path": f.path, "how": f.how} for f in tools.found]})
    report = {"host": platforms.host_rid(), "platforms": result}
    schemas.validate("toolchains", report, "toolchains report")
    return report


def cmd_toolchains(args: argparse.Namespace) -> int:
    report = found(args.platform)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        table = Table("Platform", "Role", "Found", "How", title=f"toolchains on {report['host']}")
        for entry in report["platforms"]:
            for tool in entry["tools"]:
                table.add_row(entry["rid"], tool["role"], tool["path"], tool["how"])
            if not entry["ok"]:
                table.add_row(entry["rid"], "missing", "", entry["error"], style="red")
        console.print(table)
    return 0 if all(entry["ok"] for entry in report["platforms"]) else 1
