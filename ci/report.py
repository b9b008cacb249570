"""Results as JSON, as a rich table on the terminal, and in the GitHub Actions job summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ci.core import schemas
from ci.core.console import append_job_summary

if TYPE_CHECKING:
    from rich.table import Table


class Status(StrEnum):
    """A stage's status; the values are report.json's (packaging/report.schema.json)."""

    OK = "ok"
    UP_TO_DATE = "up to date"
    FAILED = "failed"
    NOT_RUN = "not run"


STATUS_STYLE = {Status.OK: "green", Status.UP_TO_DATE: "cyan", Status.FAILED: "bold red", Status.NOT_RUN: "yellow"}


@dataclass
class StageResult:
    stage: str
    rid: str
    status: Status = Status.OK
    seconds: float = 0.0
    summary: str = ""
    details: dict = field(default_factory=dict)


def table(results: list[StageResult]) -> Table:
    from rich.table import Table  # the CLI's quick commands never draw one
    from rich.text import Text

    view = Table(title="runtime-base-ci")
    for column in ("Stage", "Platform", "Status", "Time", "Result"):
        view.add_column(column, justify="right" if column == "Time" else "left")
    for r in results:
        style = STATUS_STYLE.get(r.status, "")
        # Summaries carry paths and app output: plain text, never markup.
        view.add_row(r.stage, r.rid, Text(r.status, style=style), f"{r.seconds:.1f}s", Text(r.summary))
    return view


def markdown(results: list[StageResult]) -> str:
    rows = ["| Stage | Platform | Status | Time | Result |", "| --- | --- | --- | ---: | --- |"]
    rows += [f"| {r.stage} | {r.rid} | {r.status} | {r.seconds:.1f}s | {r.summary.replace('|', '/')} |" for r in results]
    return "\n".join(rows) + "\n"


def publish_summary(results: list[StageResult]) -> None:
    append_job_summary("## runtime-base-ci\n\n" + markdown(results))


def write_report(path: Path, runtime: str, results: list[StageResult], total: float, tool_seconds: dict) -> dict:
    data = {
        "schema_version": 1,
        "runtime": runtime,
        "ok": not any(r.status == Status.FAILED for r in results),  # not run alone is not a failure
        "total_seconds": round(total, 3),
        "tool_seconds": {k: round(v, 3) for k, v in sorted(tool_seconds.items())},
        "stages": [asdict(r) | {"seconds": round(r.seconds, 3)} for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    schemas.dump("report", data, path)
    return data
