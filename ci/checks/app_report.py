"""The one JSON line every sample app prints, and what must hold for it."""

from __future__ import annotations

import json
import os
from pathlib import Path

REQUIRED = ("app", "pid", "instance", "runtime_path", "version")


def parse_line(name: str, line: str) -> tuple[dict, list[str]]:
    """The app's report, or the problem with its line."""
    try:
        report = json.loads(line)
    except json.JSONDecodeError:
        return {}, [f"{name} printed a non-JSON line: {line[:200]!r}"]
    if not isinstance(report, dict):
        return {}, [f"{name} printed JSON that is not an object: {line[:200]!r}"]
    missing = [key for key in REQUIRED if key not in report]
    if missing:
        return report, [f"{name}'s report lacks {', '.join(missing)}"]
    plugins = report.get("plugins", [])
    entries = [report, *plugins] if isinstance(plugins, list) else None
    if entries is None or not all(isinstance(e, dict) and isinstance(e.get("runtime_path"), str)
                                  and isinstance(e.get("instance"), str) for e in entries):
        return {}, [f"{name}'s report has malformed instance, runtime_path or plugins: {line[:200]!r}"]
    return report, []


def same_path(reported: object, library: Path) -> bool:
    """Compare as the OS would: the same file, or the same path up to the OS's case rules."""
    if not isinstance(reported, str):
        return False
    if os.path.exists(reported) and os.path.exists(library):
        return os.path.samefile(reported, library)
    return os.path.normcase(reported) == os.path.normcase(str(library))


def check_report(name: str, report: dict, library: Path, version: str | None = None, plugins: int = 0) -> list[str]:
    """The app (and each of the `plugins` it loads) saw the package's runtime, one instance of it."""
    problems = []
    if len(report.get("plugins", [])) != plugins:
        problems.append(f"{name} reports {len(report.get('plugins', []))} plugins, expected {plugins}")
    if not same_path(report.get("runtime_path"), library):
        problems.append(f"{name} reports runtime {report.get('runtime_path')!r}, expected {str(library)!r}")
    if version is not None and report.get("version") != version:
        problems.append(f"{name} reports version {report.get('version')!r}, the package is {version!r}")
    for plugin in report.get("plugins", []):
        label = f"{name}: plugin {plugin.get('name')}"
        if plugin.get("instance") != report.get("instance"):
            problems.append(f"{label} sees runtime instance {plugin.get('instance')}, the host {report.get('instance')}")
        if not same_path(plugin.get("runtime_path"), library):
            problems.append(f"{label} reports runtime {plugin.get('runtime_path')!r}, expected {str(library)!r}")
    return problems


def with_host_paths(report: dict, host_path) -> dict:
    """The report with every runtime path as a path on this machine (wine reports Z:\\...)."""
    report = dict(report)
    report["plugins"] = [dict(p) for p in report.get("plugins", [])]
    for entry in (report, *report["plugins"]):
        if isinstance(entry.get("runtime_path"), str):
            entry["runtime_path"] = host_path(entry["runtime_path"])
    if not report["plugins"]:
        del report["plugins"]
    return report
