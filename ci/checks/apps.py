"""Link the sample apps against an *unpacked* redistributable, never against the build tree.

Output: <out>/runtime (the unpacked package), <out>/bin (apps), <out>/bin/plugins, and
<out>/apps.json listing every binary for verify, share and smoke.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ci.core import cache
from ci.core.errors import InputError
from ci.core.fs import atomic_write_text, built_beside, read_json, sha256_file
from ci.core.lock import locked
from ci.core.resources import source_tree
from ci.platforms import Platform
from ci.redist.unpack import Unpacked, open_unpacked, unpack
from ci.runtime.versioning import Version

APP_SET = "apps.json"
SOURCES = "src"  # the apps' sources, copied into the app set while it is built
CFLAGS = ("-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror")


@dataclass(frozen=True)
class App:
    name: str
    kind: str  # "exe" or "plugin"
    path: str  # relative to the app set root
    plugins: tuple[str, ...] = ()  # plugin names an exe loads


@dataclass(frozen=True)
class AppSet:
    root: Path
    rid: str
    runtime: Unpacked
    apps: tuple[App, ...]

    def path(self, app: App) -> Path:
        return self.root / app.path

    @property
    def exes(self) -> tuple[App, ...]:
        return tuple(a for a in self.apps if a.kind == "exe")


@dataclass(frozen=True)
class AppSource:
    """How one sample app or plugin is built, as its sources' apps.json says."""

    sources: tuple[str, ...]  # relative to the apps' directory
    defines: dict[str, str]  # -D NAME="value" for its compile
    plugins: tuple[str, ...] = ()  # plugin names an exe loads


@dataclass(frozen=True)
class AppSources:
    """The sample apps' sources: apps.json beside them, by name."""

    apps: dict[str, AppSource]
    plugins: dict[str, AppSource]


def describe_apps(apps_dir: Path) -> AppSources:
    """The sample apps' sources as `apps_dir/apps.json` describes them."""
    listing = apps_dir / "apps.json"
    data = read_listing(listing, "apps description")

    def source(spec: dict[str, Any]) -> AppSource:
        return AppSource(tuple(map(str, spec["sources"])), {str(k): str(v) for k, v in spec.get("defines", {}).items()},
                         tuple(map(str, spec.get("plugins", ()))))
    try:
        return AppSources(*({str(name): source(spec) for name, spec in data[kind].items()} for kind in ("apps", "plugins")))
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(listing, f"malformed apps description ({exc!r})") from None


def read_listing(listing: Path, what: str) -> dict[str, Any]:
    """A JSON listing's top-level object; `what` names the listing in errors."""
    data = read_json(listing)
    if not isinstance(data, dict):
        raise InputError(listing, f"malformed {what} (not a JSON object)")
    return data


def parse_apps(data: dict[str, Any], listing: Path, what: str) -> tuple[App, ...]:
    """The apps an app-set listing (apps.json, twins.json) names; `what` names the listing in errors."""
    try:
        return tuple(App(str(a["name"]), str(a["kind"]), str(a["path"]), tuple(map(str, a["plugins"])))
                     for a in data["apps"])
    except (KeyError, TypeError) as exc:
        raise InputError(listing, f"malformed {what} ({exc!r})") from None


def _link(platform: Platform, runtime: Unpacked, sources: list[str], output: Path, shared: bool,
          defines: dict[str, str], top: Path) -> None:
    """Compiled in `top` (the app set being built) from names relative to it: clang's CodeView
    records the compiler's whole command line, so no path of this machine may be on it."""
    cflags = [
        *CFLAGS, *platform.toolchain.path_independent(top),
        *(f"-I{d.relative_to(top).as_posix()}" for d in sorted({(runtime.root / h).parent for h in runtime.manifest["include"]})),
        *(f'-D{k}="{v}"' for k, v in sorted(defines.items())),
    ]
    link_inputs = [runtime.root / rel for rel in runtime.manifest["link"]]
    platform.toolchain.link_app(cflags, [Path(s) for s in sources], link_inputs, output, runtime.library.parent,
                                shared, top)


def build_apps(platform: Platform, package: Path, out: Path, apps_dir: Path | None = None,
               dotnet: Path | None = None) -> tuple[AppSet, bool]:
    """Unpack `package` into out/runtime and link every app against it (and, when it names an SDK
    package, build the C# samples from both: ci/checks/csharp_apps.py)."""
    return _build_split(platform, package, out, apps_dir, dotnet)


def _build_split(platform: Platform, package: Path, out: Path, apps_dir: Path | None,
                 dotnet: Path | None) -> tuple[AppSet, bool]:
    """All is built beside `out` and swapped in at the end (under the lock on `out`): a failure
    keeps the previous app set."""
    from ci.checks import csharp_apps  # it builds on this module's app set

    out = out.resolve()
    dotnet = dotnet or csharp_apps.default_dotnet()  # $DOTNET or PATH, unless the fork's is given
    apps_dir = apps_dir or source_tree("reference") / "apps"
    described = describe_apps(apps_dir)
    sources = {p.name: p for p in apps_dir.iterdir() if p.is_file()}
    with locked(out):
        key = cache.digest({**sources, "package": package, **csharp_apps.inputs()},
                           [CFLAGS, platform.rid, platform.toolchain.identity(), str(dotnet)])
        if cache.is_fresh(out / cache.STAMP, key, [out / APP_SET]):
            return read_app_set(out), False
        with built_beside(out, APP_SET, cache.STAMP) as new:
            runtime = unpack(package, new / "runtime", expected_rid=platform.rid)
            # The C apps are written against the reference runtime's C header; a fork package ships none.
            c_apps = described if runtime.manifest["include"] else AppSources({}, {})
            apps = list(_link_all(platform, runtime, c_apps, apps_dir, new))
            for name, exe in csharp_apps.build_csharp_apps(platform, runtime, package, new, dotnet):
                apps.append(App(name, "exe", exe.relative_to(new).as_posix()))
            csharp_apps.relocate(new, out)
            _write_app_set(AppSet(new, platform.rid, runtime, tuple(apps)))
            cache.mark_fresh(new / cache.STAMP, key)
    return AppSet(out, platform.rid, Unpacked(out / "runtime", runtime.manifest), tuple(apps)), True


def _link_all(platform: Platform, runtime: Unpacked, described: AppSources, apps_dir: Path,
              out: Path) -> tuple[App, ...]:
    """Every app and plugin, from a copy of the sources in out/src (removed after)."""
    shutil.copytree(apps_dir, out / SOURCES)
    apps: list[App] = []
    for name, spec in sorted(described.plugins.items()):
        target = out / "bin" / "plugins" / platform.plugin_name(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        _link(platform, runtime, [f"{SOURCES}/{s}" for s in spec.sources], target, True, spec.defines, out)
        apps.append(App(name, "plugin", target.relative_to(out).as_posix()))
    for name, spec in sorted(described.apps.items()):
        target = out / "bin" / f"{name}{platform.exe_suffix}"
        _link(platform, runtime, [f"{SOURCES}/{s}" for s in spec.sources], target, False, spec.defines, out)
        apps.append(App(name, "exe", target.relative_to(out).as_posix(), spec.plugins))
    shutil.rmtree(out / SOURCES)
    return tuple(apps)


#: .NET's default roll-forward policy (runtimeconfig.json rollForward): any later minor or patch of
#: the major an app was built against; the ELF soname and version nodes enforce it at load.
ROLL_FORWARD = "Minor"


def requirement(manifest: dict) -> dict:
    """What every app of a set needs of its runtime: the package it was built against, rolled forward."""
    version = Version.parse(manifest["version"])
    return {"name": manifest["name"], "rid": manifest["rid"], "version": f"{version.major}.{version.minor}",
            "roll_forward": ROLL_FORWARD, "abi_hash": manifest["abi_hash"]}


def requirement_problem(required: dict, manifest: dict) -> str | None:
    """Why a runtime package does not satisfy an app set's requirement, or None."""
    have = Version.parse(manifest["version"])
    major, minor = map(int, str(required["version"]).split("."))
    if (required["name"], required["rid"]) != (manifest["name"], manifest["rid"]):
        return f"needs {required['name']} for {required['rid']}, the runtime is {manifest['name']} for {manifest['rid']}"
    if have.major != major or have.minor < minor:
        return f"needs {required['name']} {major}.{minor} or a later {major}.x, the runtime is {manifest['version']}"
    if have.minor == minor and required["abi_hash"] != manifest["abi_hash"]:
        return f"was built against ABI {required['abi_hash'][:12]}, the runtime {manifest['version']} has {manifest['abi_hash'][:12]}"
    return None


def _write_app_set(app_set: AppSet) -> None:
    data = {"rid": app_set.rid, "runtime": "runtime", "requires": requirement(app_set.runtime.manifest),
            "apps": [asdict(a) for a in app_set.apps],
            "sha256": {a.path: sha256_file(app_set.path(a)) for a in app_set.apps}}
    atomic_write_text(app_set.root / APP_SET, json.dumps(data, indent=2) + "\n")


def read_app_set(root: Path) -> AppSet:
    """An app set written by the apps stage, checked against its runtime package and its binaries."""
    listing = root / APP_SET
    if not listing.exists():
        raise InputError(listing, "missing: not an app set (run the apps stage first)")
    data = read_listing(listing, "app set")
    apps = parse_apps(data, listing, "app set")
    try:
        rid, runtime_dir = str(data["rid"]), str(data["runtime"])
    except (KeyError, TypeError) as exc:
        raise InputError(listing, f"malformed app set ({exc!r})") from None
    runtime = open_unpacked(root / runtime_dir)
    if rid != runtime.rid:
        raise InputError(listing, f"says {rid}, but its runtime package is {runtime.rid}")
    try:
        problem = requirement_problem(data["requires"], runtime.manifest)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(listing, f"malformed requirement ({exc!r})") from None
    if problem:
        raise InputError(listing, problem)
    for app in apps:
        if not (root / app.path).is_file():
            raise InputError(root / app.path, f"{app.name} is listed in {APP_SET} but missing")
    return AppSet(root, rid, runtime, apps)
