"""Stand-ins: tools that take the place of the fork's (its build, ILC, `dotnet`) where the real
ones cannot run. Each one's output starts with "stand-in for ..."; whatever ran one says so in the
table and in report.json, and the record of it travels with the outputs (stand-ins.json)."""

from __future__ import annotations

import json
from pathlib import Path

from ci.core.fs import atomic_write_text, read_json

MARK = "stand-in for "
RECORD = "stand-ins.json"


def announced(output: str) -> bool:
    """The tool said it is a stand-in (on its first line of output)."""
    return output.lstrip().startswith(MARK)


def record(directory: Path, names: list[str]) -> None:
    """Note beside an output which stand-ins made it (nothing when none did)."""
    path = directory / RECORD
    if names:
        atomic_write_text(path, json.dumps(sorted(set(names))) + "\n")
    else:
        path.unlink(missing_ok=True)


def recorded(directory: Path) -> list[str]:
    path = directory / RECORD
    return [str(n) for n in read_json(path)] if path.is_file() else []


def label(names: list[str]) -> str:
    """The words a summary ends with when stand-ins ran: ' [stand-in: build.sh, ilc]'."""
    return f" [stand-in: {', '.join(names)}]" if names else ""
