"""The C# samples as stock NativeAOT apps: the SDK's own PublishAot path (`dotnet publish -r RID
-p:PublishAot=true`) with Microsoft's ILCompiler and NativeAOT runtime packs restored from NuGet,
so the real SDK, the real ILC and the real link make each one, with a private runtime linked in.
They are the C# side of the savings report's self-contained twins (ci.checks.savings).

linux-x64 links natively, linux-arm64 cross-links on an x64 host with clang and lld: the SDK's
Microsoft.NETCore.Native.Unix.targets (dotnet/runtime src/coreclr/nativeaot/BuildIntegration/,
as restored in microsoft.dotnet.ilcompiler 10.0.12) derives `--target=aarch64-linux-gnu` itself
when the RID's architecture differs from the host's (CrossCompileArch -> TargetTriple) and reads
`LinkerFlavor` (-fuse-ld=) and `SysRoot` (--sysroot=). SysRoot stays unset: Debian's
/usr/aarch64-linux-gnu is no sysroot for lld (its libc.so script names absolute paths, which lld
then looks for inside the sysroot); clang finds the cross libraries there by its target alone.
Windows needs MSVC's link.exe, so win-x64 is built on its own runner.

Each sample is published once per change of its inputs (samples/, the SDK, clang, the RID): the
stamp in <out> says so. <out>/nativeaot.json lists what was made and how long each publish took.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import psutil

from ci.checks import csharp_apps
from ci.checks.app_report import same_path
from ci.checks.apps import App, AppSet, read_listing
from ci.checks.share import holding
from ci.core import cache
from ci.core.errors import CiError, InputError
from ci.core.fs import atomic_write_text, fresh_output_dir, read_json
from ci.core.proc import require, run_tool, tool_version
from ci.platforms import Platform
from ci.platforms.runners import Runner
from ci.redist.unpack import Unpacked
from ci.runtime.fork import linkplan

LISTING = "nativeaot.json"
#: Where each RID is built by the SDK's PublishAot path; the others say where they are built.
BUILT_HERE = ("linux-x64", "linux-arm64")
NOT_BUILT = {"win-x64": "not built here (windows-2025 runner)",
             "win-arm64": "not built (no NativeAOT packages for win-arm64 on NuGet)"}
PLUGIN = "plugin"  # samples/plugins/plugin: NativeLib=Shared
HOST_SOURCE = "plugins/host.c"
PLUGIN_COUNTS = (1, 2, 4)
HOW = "real SDK, real ILC, real link"


@dataclass(frozen=True)
class Published:
    name: str
    kind: str  # "exe" or "plugin"
    path: str  # relative to the listing's folder
    link_map: str  # the linker's map of it, relative to the listing's folder
    seconds: float  # how long its `dotnet publish` took


@dataclass(frozen=True)
class AotSet:
    root: Path
    rid: str
    sdk_version: str
    ilcompiler_version: str
    linker: str
    apps: tuple[Published, ...]
    hosts: dict[int, str]  # plugin count -> plugin host, relative to root (plugins/ beside it)

    def path(self, relative: str) -> Path:
        return self.root / relative

    @property
    def exes(self) -> tuple[Published, ...]:
        return tuple(a for a in self.apps if a.kind == "exe")


def _env() -> dict[str, str]:
    return {**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1",
            "DOTNET_SKIP_FIRST_TIME_EXPERIENCE": "1"}


def samples() -> list[tuple[str, str]]:
    """(name, project folder below samples/) of every sample, the plugin library last."""
    return [(n, n) for n in linkplan.sample_names()] + [(PLUGIN, f"plugins/{PLUGIN}")]


def publish_command(dotnet: Path, project: Path, rid: str, out: Path, link_map: Path) -> list[str]:
    """The stock NativeAOT publish, as a user types it, plus lld (for one map format on both
    RIDs) and the map (Directory.Build.props turns RuntimeBaseLinkMap into a LinkerArg)."""
    return [str(dotnet), "publish", str(project), "-c", "Release", "-r", rid, "-p:PublishAot=true",
            "-p:LinkerFlavor=lld", f"-p:RuntimeBaseLinkMap={link_map}", "-o", str(out), "--nologo"]


def _clang_target(platform: Platform) -> list[str]:
    return [] if platform.rid == "linux-x64" else ["--target=aarch64-linux-gnu", "-fuse-ld=lld"]


def _ilcompiler_version(project_dir: Path) -> str:
    """The ILCompiler package the SDK restored for the project (obj/project.assets.json)."""
    assets = read_json(project_dir / "obj" / "project.assets.json")
    for library in assets.get("libraries", {}) if isinstance(assets, dict) else ():
        name, _, version = library.partition("/")
        if name.lower() == "microsoft.dotnet.ilcompiler":
            return version
    raise InputError(project_dir / "obj" / "project.assets.json", "names no Microsoft.DotNet.ILCompiler package")


def publish_all(platform: Platform, out: Path, dotnet: Path) -> tuple[AotSet, bool]:
    """Every sample published for `platform` into `out` (and the plugin host for N plugins);
    returns the set and whether anything was published."""
    if platform.rid not in BUILT_HERE:
        raise CiError(f"{platform.rid}: NativeAOT twins are {NOT_BUILT.get(platform.rid, 'not built here')}")
    out = out.resolve()
    clang, _ = require("clang"), require("ld.lld")
    key = cache.digest(csharp_apps.inputs(),
                       [platform.rid, _sdk_version(dotnet),
                        tool_version(clang), PLUGIN_COUNTS])
    if cache.is_fresh(out / cache.STAMP, key, [out / LISTING]):
        return read(out), False

    fresh_output_dir(out, LISTING, cache.STAMP)
    source = out / "src"
    shutil.copytree(linkplan.samples_dir(), source, ignore=shutil.ignore_patterns("bin", "obj"))
    published = []
    for name, folder in samples():
        started = time.perf_counter()
        link_map = out / "maps" / f"{name}.map"
        link_map.parent.mkdir(parents=True, exist_ok=True)
        run_tool(publish_command(dotnet, source / folder / f"{name}.csproj", platform.rid, out / name, link_map),
                 env=_env(), timeout=1800)
        kind = "plugin" if name == PLUGIN else "exe"
        binary = f"{name}/{name}.so" if kind == "plugin" else f"{name}/{name}"
        if not (out / binary).is_file():
            raise CiError(f"dotnet publish of {name} for {platform.rid} made no {out / binary}")
        published.append(Published(name, kind, binary, os.path.relpath(link_map, out),
                                   round(time.perf_counter() - started, 2)))
    hosts = _plugin_hosts(platform, out, clang, out / next(p.path for p in published if p.kind == "plugin"))
    aot = AotSet(out, platform.rid, _sdk_version(dotnet), _ilcompiler_version(source / "hello"),
                 f"{tool_version(clang)} + lld", tuple(published), hosts)
    atomic_write_text(out / LISTING, json.dumps({
        "rid": aot.rid, "how": HOW, "sdk_version": aot.sdk_version, "ilcompiler_version": aot.ilcompiler_version,
        "linker": aot.linker, "apps": [asdict(a) for a in aot.apps],
        "hosts": {str(n): h for n, h in hosts.items()}}, indent=2) + "\n")
    cache.mark_fresh(out / cache.STAMP, key)
    return aot, True


def _sdk_version(dotnet: Path) -> str:
    return run_tool([dotnet, "--version"], env=_env()).strip()


def _plugin_hosts(platform: Platform, out: Path, clang: str, plugin: Path) -> dict[int, str]:
    """For each N: host-N/plugin-host and N copies of the plugin library in host-N/plugins/ (copies,
    so the loader maps each as a module of its own, with its own runtime)."""
    hosts = {}
    for n in PLUGIN_COUNTS:
        folder = out / f"host-{n}"
        (folder / "plugins").mkdir(parents=True)
        for i in range(1, n + 1):
            shutil.copyfile(plugin, folder / "plugins" / f"plugin{i}.so")
        run_tool([clang, *_clang_target(platform), "-O2", "-Wall", "-Werror", "-o", folder / "plugin-host",
                  linkplan.samples_dir() / HOST_SOURCE, "-ldl"])
        hosts[n] = f"host-{n}/plugin-host"
    return hosts


def read(out: Path) -> AotSet:
    """The set publish_all wrote to `out`."""
    listing = out / LISTING
    data = read_listing(listing, "NativeAOT listing")
    try:
        return AotSet(out, data["rid"], data["sdk_version"], data["ilcompiler_version"], data["linker"],
                      tuple(Published(**a) for a in data["apps"]), {int(n): h for n, h in data["hosts"].items()})
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(listing, f"is not a NativeAOT listing ({exc})") from None


# --- The runtime floor, from the link map ----------------------------------------------------

_MAP_LINE = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ (\s*)(\S.*)$")
_MEMBER = re.compile(r"^(.*?)(?:\(([^()]*)\))?:\(([^()]*)\)$")
RUNTIME_LIBRARY = "libRuntime.WorkstationGC.a"
#: Output sections of a NativeAOT link that hold code (ILC puts managed code in __managedcode and
#: __unbox) and those with no contents in the file (.hydrated: data the runtime rehydrates at start).
CODE_SECTIONS = (".text", ".init", ".fini", ".plt", "__managedcode", "__unbox")
NO_CONTENTS = (".bss", ".tbss", ".hydrated")


@dataclass(frozen=True)
class Floor:
    runtime_code_bytes: int  # executable input sections from the NativeAOT runtime pack
    runtime_data_bytes: int  # its other allocated sections with contents (not .bss)
    managed_code_bytes: int  # the app's own object, compiled by ILC (its code and the framework's)
    by_library: dict[str, int]  # runtime pack file -> its code bytes

    @property
    def bytes(self) -> int:
        """What the private runtime puts in the file: its code and data."""
        return self.runtime_code_bytes + self.runtime_data_bytes


def floor(link_map: Path) -> Floor:
    """The runtime's share of one binary, from the linker's map (lld's format: VMA LMA Size Align
    Out In Symbol). The runtime is every input from the folder of the runtime pack that holds
    libRuntime.WorkstationGC.a (also libbootstrapper.o, libSystem.Native.a, ...); the managed
    code is the ILC object from obj/."""
    try:
        lines = link_map.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InputError(link_map, f"cannot be read ({exc.strerror})") from None
    inputs: list[tuple[str, str, str, int]] = []  # output section, file, member, size
    section = ""
    for line in lines[1:]:
        m = _MAP_LINE.match(line)
        if not m:
            continue
        vma, size, indent, text = int(m[1], 16), int(m[2], 16), len(m[3]), m[4]
        if indent == 0:
            section = text if vma else ""  # non-allocated (debug, comments) sections: not loaded
        elif indent == 8 and section:
            parts = _MEMBER.match(text)
            if parts:
                inputs.append((section, parts[1], parts[2] or "", size))
    pack = {str(Path(f).parent) for _, f, _, _ in inputs if Path(f).name == RUNTIME_LIBRARY}
    if len(pack) != 1:
        raise InputError(link_map, f"is not an lld map of a NativeAOT link (no single {RUNTIME_LIBRARY})")
    code, data, managed = 0, 0, 0
    by_library: Counter[str] = Counter()
    for out_section, file, _, size in inputs:
        is_code = out_section.startswith(CODE_SECTIONS)
        if str(Path(file).parent) in pack:
            if is_code:
                code += size
                by_library[Path(file).name] += size
            elif not out_section.startswith(NO_CONTENTS):
                data += size
        elif is_code and Path(file).suffix == ".o" and "/obj/" in f"/{file}":
            managed += size
    return Floor(code, data, managed, dict(sorted(by_library.items())))


# --- Running them: N copies at once, and a host with N plugins -------------------------------

@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    perms: str
    path: str  # "" for anonymous memory
    rss: int
    pss: int


def mappings(pid: int) -> list[Mapping]:
    """Every mapping of a process, file-backed or not, with its RSS and PSS (/proc/PID/smaps)."""
    found: list[Mapping] = []
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            head = line.split(maxsplit=5)
            if "-" in head[0] and len(head) >= 5:
                start, end = (int(x, 16) for x in head[0].split("-"))
                found.append(Mapping(start, end, head[1], head[5].strip() if len(head) == 6 else "", 0, 0))
            elif found and head[0] == "Rss:":
                found[-1] = replace(found[-1], rss=int(head[1]) * 1024)
            elif found and head[0] == "Pss:":
                found[-1] = replace(found[-1], pss=int(head[1]) * 1024)
    return found


def gc_reservation(maps: list[Mapping], address: int) -> list[Mapping]:
    """The GC's reservation that holds `address`: the mapping with the address and every adjacent
    anonymous mapping around it (the GC reserves its range with one anonymous mmap and commits
    pieces of it, which splits it into mappings that abut). [] when no anonymous mapping holds it."""
    ordered = sorted(maps, key=lambda m: m.start)
    at = next((i for i, m in enumerate(ordered) if m.start <= address < m.end and not m.path), None)
    if at is None:
        return []
    low = high = at
    while low > 0 and not ordered[low - 1].path and ordered[low - 1].end == ordered[low].start:
        low -= 1
    while high + 1 < len(ordered) and not ordered[high + 1].path and ordered[high + 1].start == ordered[high].end:
        high += 1
    return ordered[low:high + 1]


def thread_names(pid: int) -> Counter[str]:
    """The process's threads by name (/proc/PID/task/*/comm)."""
    names: Counter[str] = Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            names[(task / "comm").read_text().strip()] += 1
        except OSError:
            continue  # the thread ended while it was listed
    return names


def _is_gc_thread(name: str) -> bool:
    """NativeAOT names its GC's threads ".NET BGC" (background GC) and ".NET Server GC"."""
    return name.startswith(".NET") and "GC" in name


def _copies(aot: AotSet, runtime: Unpacked, name: str, path: str, n: int) -> AppSet:
    """`n` copies of one binary as an app set, so the share stage's barrier holds them at once."""
    return AppSet(aot.root, aot.rid, runtime, tuple(App(name, "exe", path) for _ in range(n)))


def _pss_kib(pid: int) -> int:
    return psutil.Process(pid).memory_full_info().pss // 1024


def _held_apps(aot: AotSet, runtime: Unpacked, runner: Runner, problems: list[str]) -> dict[str, dict[int, int]]:
    """Each app, N copies at once for each N: their total PSS (KiB). Each copy must report itself
    as its runtime, each copy a runtime instance of its own process."""
    pss: dict[str, dict[int, int]] = {}
    for app in aot.exes:
        pss[app.name] = {}
        for n in PLUGIN_COUNTS:
            with holding(_copies(aot, runtime, app.name, app.path, n), runner) as held:
                pss[app.name][n] = sum(_pss_kib(h.process.pid) for h in held)
                for h in held:
                    if not same_path(runner.host_path(h.report["runtime_path"]), aot.path(app.path)):
                        problems.append(f"NativeAOT {app.name} reports runtime {h.report['runtime_path']!r}, "
                                        "not itself")
                    if h.report.get("ok") is not True:
                        problems.append(f"NativeAOT {app.name} reported ok={h.report.get('ok')!r}")
    return pss


def _host(aot: AotSet, runtime: Unpacked, runner: Runner, n: int, problems: list[str]) -> dict:
    """The plugin host with `n` plugins, held: runtimes (distinct plugin modules that are their own
    runtime), GC heaps (distinct GC reservations found in /proc/PID/maps from the address of an
    object each plugin's GC holds, each at least the GC's own GCRegionRange), threads by name."""
    with holding(_copies(aot, runtime, "plugin-host", aot.hosts[n], 1), runner) as held:
        pid, report = held[0].process.pid, held[0].report
        maps, names = mappings(pid), thread_names(pid)
        pss = _pss_kib(pid)
    plugins = report.get("plugins", [])
    runtimes = {p["instance"] for p in plugins if same_path(runner.host_path(p["runtime_path"]),
                                                            aot.root / Path(aot.hosts[n]).parent / "plugins"
                                                            / f"{p['name']}.so")}
    heaps: dict[int, list[Mapping]] = {}
    for p in plugins:
        gc = p.get("gc", {})
        reservation = gc_reservation(maps, int(gc.get("object_address", "0"), 16))
        reserved = sum(m.end - m.start for m in reservation)
        if not reservation:
            problems.append(f"plugin host N={n}: {p['name']}'s GC heap ({gc.get('object_address')}) is in no "
                            "anonymous mapping of the process")
        elif reserved < int(gc.get("gc_region_range") or 0):
            problems.append(f"plugin host N={n}: {p['name']}'s GC reservation spans {reserved} bytes, less than "
                            f"its GCRegionRange {gc['gc_region_range']}")
        else:
            heaps[reservation[0].start] = reservation
    if len(runtimes) != n or len(heaps) != n:
        problems.append(f"plugin host N={n}: {len(runtimes)} runtimes and {len(heaps)} GC heaps for {n} plugins")
    regions = [m for r in heaps.values() for m in r]
    return {"n": n, "runtimes": len(runtimes), "gc_heaps": len(heaps),
            "gc_threads": sum(c for name, c in names.items() if _is_gc_thread(name)),
            "runtime_threads": dict(sorted((k, v) for k, v in names.items() if k.startswith(".NET"))),
            "threads": sum(names.values()),
            "gc_reserved_kib": sum(m.end - m.start for m in regions) // 1024,
            "gc_committed_kib": sum(m.end - m.start for m in regions if m.perms[:3] != "---") // 1024,
            "gc_rss_kib": sum(m.rss for m in regions) // 1024,
            "gc_committed_by_runtime_kib": sum(int(p.get("gc", {}).get("gc_committed_bytes", 0)) for p in plugins)
            // 1024,
            "vm_kib": sum(m.end - m.start for m in maps) // 1024, "pss_kib": pss}


def measure(platform: Platform, aot: AotSet, runtime: Unpacked) -> dict:
    """What the NativeAOT twins cost: on disk (size, runtime floor from the link map), and running
    (N copies of each app, the plugin host with N plugins). `runtime` is the split's package, only
    for the app-set records the share stage's barrier takes."""
    problems: list[str] = []
    apps = []
    for app in aot.apps:
        size = aot.path(app.path).stat().st_size
        f = floor(aot.path(app.link_map))
        if not 0 < f.bytes < size:
            problems.append(f"NativeAOT {app.name}: runtime floor {f.bytes} bytes is not within its {size} bytes")
        apps.append({"app": app.name, "kind": app.kind, "bytes": size, "publish_seconds": app.seconds,
                     "floor": asdict(f) | {"bytes": f.bytes}})
    entry: dict[str, object] = {"how_built": HOW, "sdk_version": aot.sdk_version,
                                "ilcompiler_version": aot.ilcompiler_version, "linker": aot.linker, "apps": apps,
                                "pss_kib_by_copies": None, "plugin_hosts": None}
    if platform.run_mode != "none":
        with Runner(platform) as runner:
            pss = _held_apps(aot, runtime, runner, problems)
            entry["plugin_hosts"] = [_host(aot, runtime, runner, n, problems) for n in PLUGIN_COUNTS]
        entry["pss_kib_by_copies"] = [{"app": name, **{str(n): kib for n, kib in by_n.items()}}
                                      for name, by_n in pss.items()]
    entry["problems"] = problems
    return entry
