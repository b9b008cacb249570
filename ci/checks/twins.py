"""Self-contained twins: every sample app linked the way stock NativeAOT links an app, each with its
own private copy of the runtime, to measure what the split saves (ci.checks.savings).

The private copy is the reference runtime built as a static library from the same sources, version
and configuration as the package the split apps use (ci.runtime.reference.build_static_runtime).
Output: <out>/bin, <out>/bin/plugins and <out>/twins.json, which lists the twins as an app set
whose `runtime` is the package they twin; the static library goes beside <out>, in
<out>/../runtime-static (beside build/<rid>/runtime, the shared build, in the pipeline's layout).
The C# samples' twins are real NativeAOT apps, published by the SDK where `dotnet` is found
(ci.checks.nativeaot), into <out>/../nativeaot.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from ci.binaries import read_binary
from ci.checks import nativeaot
from ci.checks.app_report import same_path
from ci.checks.apps import CFLAGS, AppSet, describe_apps, parse_apps, read_listing
from ci.checks.csharp_apps import default_dotnet
from ci.core import cache
from ci.core.errors import CiError, InputError
from ci.core.fs import atomic_write_text, fresh_output_dir
from ci.core.resources import source_tree
from ci.platforms import Platform
from ci.runtime import exports, reference

TWINS = "twins.json"


def _static_runtime(platform: Platform, app_set: AppSet, out: Path) -> tuple[Path, bool]:
    """The package's runtime as a static library: only the reference runtime's sources are here."""
    manifest = app_set.runtime.manifest
    if manifest["source"]["kind"] != "reference":
        raise CiError(f"{app_set.root}: self-contained twins need the runtime's static libraries; the fork's "
                      "package does not ship them (twins are built for the reference runtime only)")
    source_dir = reference.default_source_dir()
    if reference.read_version(source_dir) != manifest["version"]:
        raise InputError(app_set.runtime.root, f"is version {manifest['version']}, the reference sources here are "
                         f"{reference.read_version(source_dir)}: twins would not be twins")
    return reference.build_static_runtime(platform, out, manifest["configuration"], source_dir)


def _link(platform: Platform, library: Path, sources: list[Path], output: Path, shared: bool,
          defines: dict[str, str], apps_dir: Path) -> None:
    """One twin: the app's sources and the static runtime, RUNTIME_BASE_STATIC so nothing is imported."""
    include = library.parent.parent / "include"
    cflags = [*CFLAGS, f"-ffile-prefix-map={apps_dir}=.", f"-ffile-prefix-map={include.parent}=runtime-static",
              f"-I{include}", "-DRUNTIME_BASE_STATIC", *(f'-D{k}="{v}"' for k, v in sorted(defines.items()))]
    output.parent.mkdir(parents=True, exist_ok=True)
    platform.toolchain.link_app(cflags, sources, platform.toolchain.static_link_inputs(library), output,
                                output.parent, shared, apps_dir)


def nativeaot_dir(twins_root: Path) -> Path:
    """Where the C# samples' NativeAOT twins go, beside the C twins."""
    return twins_root.parent / "nativeaot"


def build_twins(platform: Platform, app_set: AppSet, out: Path, apps_dir: Path | None = None) -> tuple[AppSet, bool]:
    """Link every app of `app_set` again into `out`, self-contained, and publish the C# samples as
    NativeAOT apps where this machine builds them; returns the twins and whether anything was rebuilt."""
    twins, rebuilt = _build_c_twins(platform, app_set, out.resolve(), apps_dir)
    dotnet = default_dotnet()
    if dotnet is not None and platform.rid in nativeaot.BUILT_HERE:
        rebuilt = nativeaot.publish_all(platform, nativeaot_dir(twins.root), dotnet)[1] or rebuilt
    return twins, rebuilt


def _build_c_twins(platform: Platform, app_set: AppSet, out: Path, apps_dir: Path | None) -> tuple[AppSet, bool]:
    apps_dir = apps_dir or source_tree("reference") / "apps"
    library, rebuilt = _static_runtime(platform, app_set, out.parent / "runtime-static")
    described = describe_apps(apps_dir)
    sources = {p.name: p for p in apps_dir.iterdir() if p.is_file()}
    link_inputs = [str(i) for i in platform.toolchain.static_link_inputs(library)]
    key = cache.digest({**sources, "runtime": library},
                       [CFLAGS, link_inputs, platform.rid, platform.toolchain.identity()])
    if not rebuilt and cache.is_fresh(out / cache.STAMP, key, [out / TWINS]):
        return read_twins(out, app_set), False

    fresh_output_dir(out, TWINS, cache.STAMP)
    for app in app_set.apps:  # each at the same path below `out` as its split twin below the app set
        spec = (described.plugins if app.kind == "plugin" else described.apps)[app.name]
        _link(platform, library, [apps_dir / s for s in spec.sources], out / app.path, app.kind == "plugin",
              spec.defines, apps_dir)
    result = AppSet(out, app_set.rid, app_set.runtime, app_set.apps)
    problems = check_static(result)
    if problems:
        raise CiError(f"twins: {problems[0]}")
    atomic_write_text(out / TWINS, json.dumps({"rid": result.rid, "static_library": os.path.relpath(library, out),
                                               "apps": [asdict(a) for a in result.apps]}, indent=2) + "\n")
    cache.mark_fresh(out / cache.STAMP, key)
    return result, True


def read_twins(out: Path, app_set: AppSet) -> AppSet:
    """The twins written by build_twins for `app_set`."""
    listing = out / TWINS
    data = read_listing(listing, "twins listing")
    twins = parse_apps(data, listing, "twins listing")
    if data.get("rid") != app_set.rid or [a.name for a in twins] != [a.name for a in app_set.apps]:
        raise InputError(listing, f"does not twin the app set in {app_set.root}")
    return AppSet(out, app_set.rid, app_set.runtime, twins)


def check_static(twins: AppSet) -> list[str]:
    """Each twin needs no Runtime.Base library and exports none of the runtime's names (so private
    copies never meet); that each carries a runtime of its own, its report shows (check_reports)."""
    owned = {e.name for e in exports.read_exports()}
    runtime_file = Path(twins.runtime.manifest["library"]).name
    problems = []
    for app in twins.apps:
        binary = read_binary(twins.path(app))
        if any(n.lower() == runtime_file.lower() for n in binary.needed):
            problems.append(f"{app.name} still needs {runtime_file}")
        leaked = sorted(binary.export_names & owned)
        if leaked:
            problems.append(f"{app.name} exports the runtime's {', '.join(leaked[:3])}: private copies would clash")
    return problems


def check_reports(twins: AppSet, reports: dict[str, dict]) -> list[str]:
    """What the twins' reports must show: each binary is its own runtime (its runtime path is the
    binary itself) and the plugin host holds one distinct runtime instance per module."""
    problems = []
    for app in twins.exes:
        report = reports[app.name]
        if not same_path(report.get("runtime_path"), twins.path(app)):
            problems.append(f"twin {app.name} reports runtime {report.get('runtime_path')!r}, not itself")
        plugins = report.get("plugins", [])
        instances = {report["instance"], *(p["instance"] for p in plugins)}
        if len(instances) != 1 + len(plugins):
            problems.append(f"twin {app.name}: {len(instances)} runtime instances for {1 + len(plugins)} modules")
        for plugin, name in zip(plugins, app.plugins, strict=False):  # the report may list fewer
            expected = next(twins.path(a) for a in twins.apps if a.name == name)
            if not same_path(plugin.get("runtime_path"), expected):
                problems.append(f"twin {app.name}: plugin {plugin.get('name')} reports runtime "
                                f"{plugin.get('runtime_path')!r}, not {expected}")
    return problems
