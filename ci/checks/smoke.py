"""Run every app on the target and check its JSON line; say honestly how each one ran."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ci.checks.app_report import check_report, parse_line, with_host_paths
from ci.checks.apps import App, AppSet
from ci.core.errors import EnvironmentProblem
from ci.core.proc import ToolTimedOut, run
from ci.platforms import get_platform
from ci.platforms.runners import HOW, Runner

RUN_TIMEOUT = 300.0  # seconds per app: emulated runs are slow, a hang is still a failure


def _run_one(runner: Runner, app: App, exe: Path, library: Path, version: str) -> dict:
    name = app.name
    started = time.perf_counter()
    try:
        done = run(runner.command(exe), env=runner.env, timeout=RUN_TIMEOUT, text=False)
    except EnvironmentProblem as exc:
        return {"app": name, "how": HOW[runner.mode], "exit": None, "seconds": 0.0,
                "problems": [f"{name} cannot be started ({exe}): {exc.message}"]}
    except ToolTimedOut:
        return {"app": name, "how": HOW[runner.mode], "exit": None, "seconds": RUN_TIMEOUT,
                "problems": [f"{name} did not finish within {RUN_TIMEOUT:.0f}s"]}
    seconds = time.perf_counter() - started
    lines = done.stdout.decode(errors="replace").splitlines()
    problems = []
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        problems.append(f"{name} exited with {done.returncode}: {' / '.join(err) or 'no message'}")
    report: dict[str, Any] = {}
    if len(lines) != 1:
        problems.append(f"{name} printed {len(lines)} lines, expected one JSON line")
    else:
        report, problems_in_line = parse_line(name, lines[0])
        problems += problems_in_line
    if report:
        report = with_host_paths(report, runner.host_path)
        problems += check_report(name, report, library, version, plugins=len(app.plugins))
    return {"app": name, "how": HOW[runner.mode], "exit": done.returncode, "seconds": round(seconds, 3),
            "report": report, "problems": problems}


def smoke(app_set: AppSet) -> dict:
    platform = get_platform(app_set.rid)
    if platform.run_mode == "none":
        return {"rid": platform.rid, "how": f"not run (needs {platform.runner} runner)", "results": [],
                "problems": [], "ok": True, "ran": False}
    library = app_set.runtime.library.resolve()
    version = app_set.runtime.manifest["version"]
    with Runner(platform) as runner:
        runner.add_library_dir(library.parent)
        results = [_run_one(runner, a, app_set.path(a), library, version) for a in app_set.exes]
    problems = [p for r in results for p in r["problems"]]
    return {"rid": platform.rid, "how": HOW[runner.mode], "results": results, "problems": problems,
            "ok": not problems, "ran": True}
