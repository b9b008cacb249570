"""build -> package -> apps -> verify -> share, per platform, with progress and one report.

Each stage is a `Stage` in `STAGES`: a name and `run(context) -> Outcome`. The context carries
what the stages before made (the package, the app set) and where everything lives (`Layout`);
the pipeline is a loop over the registered stages, and `--check` and report.json's stage names
come from the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ci.core.errors import CiError
from ci.core.fs import os_error
from ci.core.lock import locked
from ci.platforms import Platform
from ci.report import StageResult, Status
from ci.runtime.fork import stand_in

if TYPE_CHECKING:
    from ci.checks.apps import AppSet
    from ci.runtime.sources import ForkSource, ReferenceSource

# Each stage imports its own modules when it runs: the CLI reads this registry (for --check) at
# every start, and the stages' modules take most of a second to import.


@dataclass(frozen=True)
class Layout:
    """Where the pipeline keeps its work: build/<rid>/{runtime,apps,twins} and dist/."""

    build: Path
    dist: Path

    def runtime(self, rid: str) -> Path:
        return self.build / rid / "runtime"

    def apps(self, rid: str) -> Path:
        return self.build / rid / "apps"

    def twins(self, rid: str) -> Path:
        return self.build / rid / "twins"

    def report(self) -> Path:
        return self.dist / "report.json"


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a stage says: its status, one line, what it found, and the stand-ins it ran on."""

    status: Status = Status.OK
    summary: str
    details: dict = field(default_factory=dict)
    stand_ins: tuple[str, ...] = ()


@dataclass(kw_only=True)
class Context:
    """One platform's run: its settings, and what the stages so far have made."""

    platform: Platform
    layout: Layout
    configuration: str
    source: ReferenceSource | ForkSource
    checks: tuple[str, ...]
    archive: Path | None = None  # made by the package stage
    app_set: AppSet | None = None  # made by the apps stage
    inherited_stand_ins: tuple[str, ...] = ()  # of what the later stages run on (the runtime, then the apps)

    @property
    def rid(self) -> str:
        return self.platform.rid

    def package(self) -> Path:
        assert self.archive is not None, "the package stage runs first"
        return self.archive

    def apps(self) -> AppSet:
        assert self.app_set is not None, "the apps stage runs first"
        return self.app_set


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Context], Outcome]
    makes_inputs: bool = False  # build and apps: what they ran on labels the stages after them
    is_check: bool = False  # a check on an app set, chosen with --check


def _kib(path: Path) -> str:
    return f"{path.stat().st_size / 1024:.1f} KiB"


def _failed_unless(ok: bool, status: Status = Status.OK) -> Status:
    return status if ok else Status.FAILED


def _build(ctx: Context) -> Outcome:
    out, rebuilt = ctx.source.build(ctx.platform, ctx.layout.runtime(ctx.rid), ctx.configuration)
    return Outcome(status=Status.OK if rebuilt else Status.UP_TO_DATE,
                   summary=f"{out.name} {out.version} ({out.configuration}) {_kib(out.root / out.library)}",
                   stand_ins=tuple(stand_in.recorded(out.root)))


def _package(ctx: Context) -> Outcome:
    from ci.redist.package import package

    pkg = package(ctx.layout.runtime(ctx.rid), ctx.layout.dist)
    ctx.archive = pkg.archive
    summary = f"{pkg.archive.name} {_kib(pkg.archive)}, symbols {_kib(pkg.symbols)}"
    details: dict = {"archive": str(pkg.archive), "symbols": str(pkg.symbols),
                     "archive_bytes": pkg.archive.stat().st_size, "symbols_bytes": pkg.symbols.stat().st_size}
    if pkg.sdk:
        summary += f", SDK {pkg.sdk.name} {_kib(pkg.sdk)}"
        details |= {"sdk": str(pkg.sdk), "sdk_bytes": pkg.sdk.stat().st_size}
    return Outcome(status=Status.OK if pkg.rebuilt else Status.UP_TO_DATE, summary=summary, details=details)


def _existing_package(ctx: Context) -> Outcome:
    from ci.redist.package import find_package

    ctx.archive = find_package(ctx.layout.dist, ctx.platform)
    return Outcome(summary=f"{ctx.archive.name} from {ctx.layout.dist} (sha256 checked)")


def _apps(ctx: Context) -> Outcome:
    from ci.checks.apps import build_apps
    from ci.checks.csharp_apps import OUT as CSHARP
    from ci.checks.csharp_apps import default_dotnet
    from ci.checks.csharp_apps import stand_ins as csharp_stand_ins
    from ci.checks.twins import build_twins

    dotnet = ctx.source.dotnet(ctx.platform) if ctx.source.kind == "fork" else default_dotnet()
    app_set, rebuilt = build_apps(ctx.platform, ctx.package(), ctx.layout.apps(ctx.rid), dotnet=dotnet)
    if "savings" in ctx.checks:  # the same apps self-contained, to compare
        rebuilt = build_twins(ctx.platform, app_set, ctx.layout.twins(ctx.rid))[1] or rebuilt
    ctx.app_set = app_set
    csharp = [a for a in app_set.apps if a.path.startswith(f"{CSHARP}/")]
    return Outcome(status=Status.OK if rebuilt else Status.UP_TO_DATE,
                   summary=f"{len(app_set.exes)} apps ({len(csharp)} C#), {len(app_set.apps) - len(app_set.exes)} plugins",
                   details={"apps": [a.path for a in app_set.apps]}, stand_ins=tuple(csharp_stand_ins(app_set.root)))


def _verify(ctx: Context) -> Outcome:
    from ci.checks.verify import verify

    app_set = ctx.apps()
    result = verify(app_set.runtime.library, [app_set.path(a) for a in app_set.apps])
    return Outcome(status=_failed_unless(result["ok"]), details=result,
                   summary=f"{len(result['apps'])} binaries, {len(result['violations'])} violations")


def _share(ctx: Context) -> Outcome:
    from ci.checks.share import measure
    from ci.containers.images import prepare_runner
    from ci.platforms.runners import HOW

    if ctx.platform.run_mode == "none":
        return Outcome(status=Status.NOT_RUN, summary=f"needs a {ctx.platform.runner} runner")
    prepare_runner(ctx.platform)
    result = measure(ctx.apps())
    saved = "" if result["pss_saved_kib"] is None else f", PSS saved {result['pss_saved_kib']} KiB"
    summary = (f"{len(result['processes'])} processes {HOW[result['run_mode']]}, one copy each{saved}"
               if result["ok"] else "; ".join(result["problems"]))
    return Outcome(status=_failed_unless(result["ok"]), summary=summary, details=result)


def _smoke(ctx: Context) -> Outcome:
    from ci.checks.smoke import smoke
    from ci.containers.images import prepare_runner

    prepare_runner(ctx.platform)
    result = smoke(ctx.apps())
    if not result["ran"]:
        return Outcome(status=Status.NOT_RUN, summary=result["how"], details=result)
    summary = (f"{len(result['results'])} apps ran, {result['how']}" if result["ok"]
               else "; ".join(result["problems"]))
    return Outcome(status=_failed_unless(result["ok"]), summary=summary, details=result)


def _savings(ctx: Context) -> Outcome:
    from ci.checks import savings, twins
    from ci.containers.images import prepare_runner

    prepare_runner(ctx.platform)
    entry = savings.measure(ctx.platform, ctx.apps(), twins.read_twins(ctx.layout.twins(ctx.rid), ctx.apps()),
                            ctx.package())
    savings.record(ctx.layout.dist, entry)
    return Outcome(status=_failed_unless(entry["ok"]), details=entry,
                   summary=savings.summary(entry) if entry["ok"] else "; ".join(entry["problems"]))


#: Every stage, in the order a run takes them; build, package and apps always run (cached when unchanged).
STAGES = (
    Stage("build", _build, makes_inputs=True),
    Stage("package", _package),
    Stage("apps", _apps, makes_inputs=True),
    Stage("verify", _verify, is_check=True),
    Stage("share", _share, is_check=True),
    Stage("smoke", _smoke, is_check=True),
    Stage("savings", _savings, is_check=True),
)
#: The package stage of a run that takes the package already in dist/ instead of building one.
FROM_DIST = Stage("package", _existing_package)
CHECKS = tuple(s.name for s in STAGES if s.is_check)
DEFAULT_CHECKS = ("verify", "share")


def stages_for(checks: tuple[str, ...], from_dist: bool = False) -> list[Stage]:
    """The stages a run takes: the producing ones, then the chosen checks in registry order."""
    chosen = [s for s in STAGES if not s.is_check or s.name in checks]
    if from_dist:
        chosen = [FROM_DIST if s.name == "package" else s for s in chosen if s.name != "build"]
    return chosen


def run_platform(platform: Platform, layout: Layout, configuration: str,
                 checks: tuple[str, ...] = DEFAULT_CHECKS, from_dist: bool = False,
                 source: ReferenceSource | ForkSource | None = None) -> list[StageResult]:
    """All stages for one platform; `from_dist` takes the package already in dist/ instead of building."""
    from ci.runtime.sources import ReferenceSource

    source = source or ReferenceSource()
    ctx = Context(platform=platform, layout=layout, configuration=configuration, source=source, checks=checks)
    with locked(layout.build / platform.rid):  # one run at a time on a platform's build tree
        return _run_stages(ctx, stages_for(checks, from_dist))


def run_platforms(platforms: list[Platform], jobs: int, run: Callable[[Platform], list[StageResult]]) -> list[StageResult]:
    """`run` for each platform, up to `jobs` at once (platforms share nothing but dist/, which the
    package stage locks); results in the platforms' order, whatever order they finish in."""
    if jobs <= 1 or len(platforms) <= 1:
        return [r for p in platforms for r in run(p)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return [r for results in pool.map(run, platforms) for r in results]


def _result(stage: Stage, ctx: Context, outcome: Outcome, seconds: float) -> StageResult:
    """The outcome as report.json has it; a stage that ran on (or as) stand-ins says so."""
    if stage.makes_inputs:
        ctx.inherited_stand_ins = outcome.stand_ins
    names = list(dict.fromkeys((*outcome.stand_ins, *(() if stage.makes_inputs else ctx.inherited_stand_ins))))
    details = {**outcome.details, "stand_in": names} if names else outcome.details
    summary = outcome.summary + (stand_in.label(names) if names else "")
    return StageResult(stage.name, ctx.rid, outcome.status, seconds, summary, details)


def _run_stages(ctx: Context, stages: list[Stage]) -> list[StageResult]:
    from rich.text import Text

    from ci.core.console import console, progress

    results = []
    failed = None
    for stage in stages:
        if failed:
            results.append(StageResult(stage.name, ctx.rid, Status.NOT_RUN, 0.0, f"{failed} failed"))
            continue
        started = time.perf_counter()
        with progress(f"{stage.name} {ctx.rid}"):
            try:
                outcome = stage.run(ctx)
            except (CiError, OSError) as exc:
                error = exc if isinstance(exc, CiError) else os_error(exc.filename or stage.name, exc, f"{stage.name} failed")
                console.print(Text.assemble((f"{stage.name} {ctx.rid} failed: ", "red"), error.message), soft_wrap=True)
                outcome = Outcome(status=Status.FAILED, summary=error.message.splitlines()[0][:120],
                                  details={"error": error.message})
        results.append(_result(stage, ctx, outcome, time.perf_counter() - started))
        if outcome.status == Status.FAILED:
            failed = stage.name
    return results
