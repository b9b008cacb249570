"""`python -m ci toolchains`: which compiler, binutils and headers each platform's toolchain finds
on this host, and how (CI prints it at the start of every leg); `python -m ci build-host`: the
Visual Studio instances, MSVC, Windows SDK, CMake and Python of a Windows build host, in the log
and the job summary (every Windows leg prints it)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from ci import platforms
from ci.cli import options
from ci.core import schemas
from ci.core.console import append_job_summary, console


def register(sub: argparse._SubParsersAction) -> None:
    p = options.command(sub, "toolchains", cmd_toolchains, options.platforms, options.as_json,
                        help="the tools each platform's toolchain finds on this host, and how",
                        description="Locate each platform's compiler, binutils and headers on this host; "
                                    "exit 1 if any is missing.")
    p = options.command(sub, "build-host", cmd_build_host, options.as_json,
                        help="this Windows build host's Visual Studio (vswhere), MSVC, Windows SDK, CMake and Python",
                        description="Report the Visual Studio instances vswhere knows, the default MSVC toolset, the "
                                    "Windows SDKs, CMake and Python, in the log and the job summary; a missing one is "
                                    "reported, not an error.")
    p.add_argument("--vswhere", type=Path, help="vswhere.exe (default: the Visual Studio Installer's)")
    p.add_argument("--windows-kits", type=Path, help="the Windows Kits 10 folder (default: the registry's)")


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


def cmd_build_host(args: argparse.Namespace) -> int:
    from ci.platforms.buildhost import markdown, windows_build_host

    host = platforms.host_rid()
    rows = windows_build_host(args.vswhere, args.windows_kits)
    append_job_summary(markdown(rows, f"Build host {host}"))
    if args.json:
        report = {"host": host, "tools": [{"name": r.name, "version": r.version, "where": r.where} for r in rows]}
        schemas.validate("build-host", report, "build-host report")
        print(json.dumps(report, indent=2))
    else:
        table = Table("Tool", "Version", "Where", title=f"build host {host}")
        for row in rows:
            table.add_row(row.name, row.version or "missing", row.where, style=None if row.version else "yellow")
        console.print(table)
    return 0
