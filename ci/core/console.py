"""The terminal and the CI log: one console, collapsible progress groups on GitHub Actions."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@cache
def _console() -> Console:
    from rich.console import Console

    # Logs are read in wide CI viewers: do not wrap tables at 80 columns when not on a terminal.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 140)


class _OnFirstUse:
    """The console, made on first use: importing rich costs ~35 ms that a quick command never needs."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_console(), name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(_console(), name, value)

    def __enter__(self) -> Console:
        return _console().__enter__()

    def __exit__(self, *exc: object) -> None:
        _console().__exit__(*exc)


console: Console = _OnFirstUse()  # type: ignore[assignment]


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


@contextmanager
def progress(title: str) -> Iterator[None]:
    """A collapsible log group on GitHub, a spinner on a terminal; elapsed time at the end."""
    started = time.perf_counter()
    if threading.current_thread() is not threading.main_thread():  # platforms in parallel: one spinner at most
        console.print(f"  {title} ...", markup=False)
        yield
    elif in_github_actions():
        print(f"::group::{title}", flush=True)
        try:
            yield
        finally:
            print("::endgroup::", flush=True)
    else:
        with console.status(f"{title} ..."):
            yield
    console.print(f"  {title}: {time.perf_counter() - started:.1f}s")


def append_job_summary(markdown: str) -> None:
    """Add to the GitHub Actions job summary, when there is one."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(markdown)
