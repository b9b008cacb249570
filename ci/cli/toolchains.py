"""`python -m ci toolchains`: which compiler, binutils and headers each platform's toolchain finds
on this host, and how (CI prints it at the start of every leg); with `--build-host`, also the
Visual Studio instances, MSVC, Windows SDK, CMake and Python of a Windows build host, in the log
and the job summary."""

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
    p.add_argument("--build-host", action="store_true",
                   help="also report the Visual Studio instances (vswhere), MSVC, Windows SDK, CMake and Python "
                        "of this Windows build host (log and job summary); a missing one is reported, not an error")
    p.add_argument("--vswhere", type=Path, help="with --build-host: vswhere.exe (default: the Visual Studio Installer's)")
    p.add_argument("--windows-kits", type=Path, help="with --build-host: the Windows Kits 10 folder (default: the registry's)")


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
    if args.build_host:
        from ci.platforms.buildhost import markdown, windows_build_host

        rows = windows_build_host(args.vswhere, args.windows_kits)
        report["build_host"] = [{"name": r.name, "version": r.version, "where": r.where} for r in rows]
        schemas.validate("toolchains", report, "toolchains report")
        append_job_summary(markdown(rows, f"Build host {report['host']}"))
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
        if args.build_host:
            host = Table("Tool", "Version", "Where", title=f"build host {report['host']}")
            for row in report["build_host"]:
                host.add_row(row["name"], row["version"] or "missing", row["where"], style=None if row["version"] else "yellow")
            console.print(host)
    return 0 if all(entry["ok"] for entry in report["platforms"]) else 1
