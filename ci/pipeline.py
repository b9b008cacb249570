"""build -> package -> apps -> verify -> share, per platform, with progress and one report."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text

from ci.checks.apps import build_apps
from ci.checks.csharp_apps import OUT as CSHARP
from ci.checks.csharp_apps import default_dotnet
from ci.checks.csharp_apps import stand_ins as csharp_stand_ins
from ci.checks.share import measure
from ci.checks.smoke import smoke
from ci.checks.twins import build_twins
from ci.checks.verify import verify
from ci.containers.images import prepare_runner
from ci.core.console import console, progress
from ci.core.errors import CiError
from ci.core.fs import os_error
from ci.core.lock import locked
from ci.platforms import Platform
from ci.platforms.runners import HOW
from ci.redist.package import find_package, package
from ci.report import StageResult, Status
from ci.runtime.fork import stand_in
from ci.runtime.sources import ForkSource, ReferenceSource

#: Stages that check an app set; build, package and apps always run first (cached when unchanged).
CHECKS = ("verify", "share", "smoke", "savings")
DEFAULT_CHECKS = ("verify", "share")


@dataclass(frozen=True)
class Layout:
    """Where the pipeline keeps its work: build/<rid>/... and dist/."""

    build: Path
    dist: Path

    def runtime(self, rid: str) -> Path:
        return self.build / rid / "runtime"

    def apps(self, rid: str) -> Path:
        return self.build / rid / "apps"


def _kib(path: Path) -> str:
    return f"{path.stat().st_size / 1024:.1f} KiB"


def run_platform(platform: Platform, layout: Layout, configuration: str,
                 checks: tuple[str, ...] = DEFAULT_CHECKS, from_dist: bool = False,
                 source: ReferenceSource | ForkSource = ReferenceSource()) -> list[StageResult]:
    """All stages for one platform; `from_dist` takes the package already in dist/ instead of building."""
    rid = platform.rid
    state: dict = {}

    def build(r: StageResult) -> None:
        out, rebuilt = source.build(platform, layout.runtime(rid), configuration)
        r.status = Status.OK if rebuilt else Status.UP_TO_DATE
        r.summary = f"{out.name} {out.version} ({out.configuration}) {_kib(out.root / out.library)}"
        state["stand_in"] = _stand_ins(r, stand_in.recorded(out.root))

    def package_(r: StageResult) -> None:
        pkg = package(layout.runtime(rid), layout.dist)
        state["archive"] = pkg.archive
        r.status = Status.OK if pkg.rebuilt else Status.UP_TO_DATE
        r.summary = f"{pkg.archive.name} {_kib(pkg.archive)}, symbols {_kib(pkg.symbols)}"
        r.details = {"archive": str(pkg.archive), "symbols": str(pkg.symbols),
                     "archive_bytes": pkg.archive.stat().st_size, "symbols_bytes": pkg.symbols.stat().st_size}
        if pkg.sdk:
            r.summary += f", SDK {pkg.sdk.name} {_kib(pkg.sdk)}"
            r.details |= {"sdk": str(pkg.sdk), "sdk_bytes": pkg.sdk.stat().st_size}
        _stand_ins(r, state.get("stand_in", []))

    def existing_package(r: StageResult) -> None:
        state["archive"] = find_package(layout.dist, platform)
        r.summary = f"{state['archive'].name} from {layout.dist} (sha256 checked)"

    def apps(r: StageResult) -> None:
        dotnet = source.dotnet(platform) if source.kind == "fork" else default_dotnet()
        app_set, rebuilt = build_apps(platform, state["archive"], layout.apps(rid), dotnet=dotnet)
        if "savings" in checks:  # the same apps self-contained, to compare
            rebuilt = build_twins(platform, app_set, layout.build / rid / "twins")[1] or rebuilt
        state["apps"] = app_set
        r.status = Status.OK if rebuilt else Status.UP_TO_DATE
        csharp = [a for a in app_set.apps if a.path.startswith(f"{CSHARP}/")]
        r.summary = (f"{len(app_set.exes)} apps ({len(csharp)} C#), {len(app_set.apps) - len(app_set.exes)} plugins")
        r.details = {"apps": [a.path for a in app_set.apps]}
        state["stand_in"] = _stand_ins(r, csharp_stand_ins(app_set.root))

    def verify_(r: StageResult) -> None:
        app_set = state["apps"]
        result = verify(app_set.runtime.library, [app_set.path(a) for a in app_set.apps])
        r.details = result
        r.summary = f"{len(result['apps'])} binaries, {len(result['violations'])} violations"
        if not result["ok"]:
            r.status = Status.FAILED

    def share(r: StageResult) -> None:
        if platform.run_mode == "none":
            r.status, r.summary = Status.NOT_RUN, f"needs a {platform.runner} runner"
            return
        prepare_runner(platform)
        result = measure(state["apps"])
        r.details = result
        saved = "" if result["pss_saved_kib"] is None else f", PSS saved {result['pss_saved_kib']} KiB"
        r.summary = (f"{len(result['processes'])} processes {HOW[result['run_mode']]}, one copy each{saved}"
                     if result["ok"] else "; ".join(result["problems"]))
        if not result["ok"]:
            r.status = Status.FAILED

    def smoke_(r: StageResult) -> None:
        prepare_runner(platform)
        result = smoke(state["apps"])
        r.details = result
        if not result["ran"]:
            r.status, r.summary = Status.NOT_RUN, result["how"]
            return
        r.summary = (f"{len(result['results'])} apps ran, {result['how']}" if result["ok"]
                     else "; ".join(result["problems"]))
        if not result["ok"]:
            r.status = Status.FAILED

    def savings_(r: StageResult) -> None:
        from ci.checks import savings, twins

        prepare_runner(platform)
        entry = savings.measure(platform, state["apps"], twins.read_twins(layout.build / rid / "twins", state["apps"]),
                                state["archive"])
        savings.record(layout.dist, entry)
        r.details, r.summary = entry, savings.summary(entry) if entry["ok"] else "; ".join(entry["problems"])
        r.status = Status.OK if entry["ok"] else Status.FAILED

    def labelled(check: Callable[[StageResult], None]) -> Callable[[StageResult], None]:
        """A check on apps a stand-in built says so."""
        def run(r: StageResult) -> None:
            check(r)
            _stand_ins(r, state.get("stand_in", []))
        return run

    checks_by_name = {"verify": labelled(verify_), "share": labelled(share), "smoke": labelled(smoke_),
                     "savings": labelled(savings_)}
    produce = [("package", existing_package)] if from_dist else [("build", build), ("package", package_)]
    steps: list[tuple[str, Callable[[StageResult], None]]] = [
        *produce, ("apps", apps), *((c, checks_by_name[c]) for c in checks)]
    with locked(layout.build / rid):  # one run at a time on a platform's build tree
        return _run_steps(rid, steps)


def run_platforms(platforms: list[Platform], jobs: int, run: Callable[[Platform], list[StageResult]]) -> list[StageResult]:
    """`run` for each platform, up to `jobs` at once (platforms share nothing but dist/, which the
    package stage locks); results in the platforms' order, whatever order they finish in."""
    if jobs <= 1 or len(platforms) <= 1:
        return [r for p in platforms for r in run(p)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return [r for results in pool.map(run, platforms) for r in results]


def _stand_ins(r: StageResult, names: list[str]) -> list[str]:
    """Label a stage that ran on (or as) stand-ins, in the table and in report.json."""
    if names:
        r.summary += stand_in.label(names)
        r.details["stand_in"] = names
    return names


def _run_steps(rid: str, steps: list[tuple[str, Callable[[StageResult], None]]]) -> list[StageResult]:
    results = []
    failed = None
    for name, step in steps:
        result = StageResult(name, rid)
        results.append(result)
        if failed:
            result.status, result.summary = Status.NOT_RUN, f"{failed} failed"
            continue
        started = time.perf_counter()
        with progress(f"{name} {rid}"):
            try:
                step(result)
            except (CiError, OSError) as exc:
                error = exc if isinstance(exc, CiError) else os_error(exc.filename or name, exc, f"{name} failed")
                console.print(Text.assemble((f"{name} {rid} failed: ", "red"), error.message), soft_wrap=True)
                result.status, result.summary = Status.FAILED, error.message.splitlines()[0][:120]
                result.details = {"error": error.message}
        result.seconds = time.perf_counter() - started
        if result.status == Status.FAILED:
            failed = name
    return results
