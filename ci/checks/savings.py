"""What the split saves, measured against self-contained twins (ci.checks.twins): the same apps,
each with a private copy of the runtime linked in, the way stock NativeAOT builds them.

- disk: every binary's shipped size (debug info dropped, as the package ships the runtime), split
  and self-contained, the runtime library's, and the break-even N: from N binaries on, N split
  binaries plus one runtime take no more room than N self-contained ones;
- memory: all apps held alive at once, split, then self-contained: each process's PSS, and the
  runtime's share of it. Split, the PSS of the runtime library's mappings; self-contained, the
  twin's PSS minus what the split app uses outside the runtime library (this holds whether the
  loader maps the binary or copies it, as wine does for unaligned PE files);
- runtime resources in one process, the plugin host with two plugins: runtime instances and heap
  reservations the host and its plugins report (RhGetMemoryInfo from each module's own runtime),
  and the process's address space and threads as the OS counts them;
- the C# samples as real NativeAOT apps (ci.checks.nativeaot): each one's size and runtime floor
  (the runtime pack's share of it, from the link map), PSS of N copies at once, and a C host
  loading N NativeAOT plugin libraries: runtimes, GC heaps, GC threads, GC reserved and committed
  memory, for N = 1, 2, 4, beside the split's plugin host (one runtime, one heap).
Every number comes from a file on disk or a running process; nothing is assumed.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Any, TypedDict

import psutil
import pygal

from ci.checks import nativeaot
from ci.checks.app_report import same_path, with_host_paths
from ci.checks.apps import App, AppSet
from ci.checks.csharp_apps import default_dotnet
from ci.checks.share import Held, holding, regions, sum_kib
from ci.checks.smoke import HOW
from ci.checks.twins import check_reports, nativeaot_dir
from ci.core import schemas
from ci.core.console import append_job_summary
from ci.core.errors import StageFailed
from ci.core.fs import atomic_write_text
from ci.platforms import Platform
from ci.platforms.runners import Runner

#: Holds per app set: the threads app's heap at the barrier depends on how its threads interleaved
#: with collections (two modes, about 2 MiB apart); the least of three is stable from run to run.
ROUNDS = 3


# --- Disk ------------------------------------------------------------------------------------

class BinarySizes(TypedDict):
    """One app's shipped size, split and as its self-contained twin (a row of savings.json)."""

    app: str
    kind: str
    split_bytes: int
    self_contained_bytes: int


def shipped_bytes(platform: Platform, path: Path) -> int:
    """The size of `path` as shipped: a copy with its debug info dropped, as the package does."""
    with tempfile.TemporaryDirectory(prefix="savings-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        platform.toolchain.strip_debug(copy)
        return copy.stat().st_size


def disk(platform: Platform, split: AppSet, twins: AppSet) -> dict:
    runtime = shipped_bytes(platform, split.runtime.library)
    apps = [BinarySizes(app=a.name, kind=a.kind, split_bytes=shipped_bytes(platform, split.path(a)),
                        self_contained_bytes=shipped_bytes(platform, twins.path(t)))
            for a, t in zip(split.apps, twins.apps, strict=True)]
    n = len(apps)
    split_mean = sum(a["split_bytes"] for a in apps) / n
    twin_mean = sum(a["self_contained_bytes"] for a in apps) / n
    overhead = twin_mean - split_mean  # what a private runtime adds to one binary
    break_even = math.ceil(runtime / overhead) if overhead > 0 else None
    return {
        "runtime_bytes": runtime,
        "binaries": apps,
        "split_total_bytes": sum(a["split_bytes"] for a in apps) + runtime,
        "self_contained_total_bytes": sum(a["self_contained_bytes"] for a in apps),
        "mean_split_bytes": round(split_mean),
        "mean_self_contained_bytes": round(twin_mean),
        "private_runtime_bytes": round(overhead),
        "break_even_n": break_even,
        # N average binaries of this set, either way: the curve the break-even N sits on.
        "by_n": [{"n": k, "split_bytes": round(k * split_mean + runtime), "self_contained_bytes": round(k * twin_mean)}
                 for k in range(1, max(n, (break_even or 0) + 2) + 1)],
    }


# --- Processes -------------------------------------------------------------------------------

def _kib(value: int) -> int:
    return value // 1024


def pss_readable() -> bool:
    """PSS needs /proc/PID/smaps (Linux, which also serves qemu-user and wine); Windows has no PSS."""
    return Path("/proc/self/smaps").exists()


def _process(h: Held, app: App, library: Path, runner: Runner) -> dict:
    """One held process: its PSS and the runtime library's share of it (None where the OS keeps no
    PSS), its address space and threads."""
    try:
        process = psutil.Process(h.process.pid)
        vms, threads = process.memory_info().vms, process.num_threads()
        pss = runtime = None
        if pss_readable():
            pss = _kib(process.memory_full_info().pss)
            runtime = sum_kib([r.pss for r in regions(h.process.pid) if same_path(r.path, library)])
    except (psutil.Error, OSError):
        raise StageFailed(f"savings: {h.name} exited before its memory was read (it must hold on --hold)") from None
    return {"app": app.name, "pid": h.process.pid, "pss_kib": pss, "runtime_pss_kib": runtime,
            "vm_kib": _kib(vms), "threads": threads, "report": with_host_paths(h.report, runner.host_path)}


def _held(app_set: AppSet, runner: Runner, library: Path) -> list[dict]:
    """Every app of the set alive at once, measured while all are held; ROUNDS times, keeping for
    each app the round in which it used the least memory (the least disturbed one)."""
    by_name = {a.name: a for a in app_set.exes}
    rounds = []
    for _ in range(ROUNDS):
        with holding(app_set, runner) as held:
            rounds.append([_process(h, by_name[h.name], library, runner) for h in held])
    return [min(same_app, key=lambda p: p["pss_kib"] or 0) for same_app in zip(*rounds, strict=True)]


def _plugin_host(process: dict) -> dict:
    """Runtime instances and heap reservations in the plugin host, from its report."""
    report = process["report"]
    modules = [report, *report.get("plugins", [])]
    heaps = {m["instance"]: int(m.get("heap_reserved_bytes", 0)) for m in modules}
    return {"modules": len(modules), "runtime_instances": len(heaps),
            "heaps": sum(1 for b in heaps.values() if b > 0),
            "heap_reserved_kib": _kib(sum(heaps.values())), "vm_kib": process["vm_kib"],
            "threads": process["threads"]}


def processes(platform: Platform, split: AppSet, twins: AppSet) -> dict:
    """Both sets held in turn through one runner; memory and the plugin host, side by side."""
    library = split.runtime.library.resolve()
    with Runner(platform) as runner:
        runner.add_library_dir(library.parent)
        split_run = _held(split, runner, library)
        twin_run = _held(twins, runner, library)
    problems = check_reports(twins, {p["app"]: p["report"] for p in twin_run})
    host = next(a.name for a in split.exes if a.plugins)
    split_host, twin_host = (_plugin_host(next(p for p in run if p["app"] == host)) for run in (split_run, twin_run))
    if split_host["runtime_instances"] != 1:
        problems.append(f"split plugin host sees {split_host['runtime_instances']} runtime instances, not one")
    memory = _memory(split_run, twin_run, library, problems) if pss_readable() else None
    return {"how": HOW[runner.mode], "memory": memory, "plugin_host": {"split": split_host, "self_contained": twin_host},
            "problems": problems}


def _memory(split_run: list[dict], twin_run: list[dict], library: Path, problems: list[str]) -> dict:
    """Totals of both runs; a twin's runtime share is its PSS beyond the split app's outside the runtime."""
    for p in twin_run:
        if p["runtime_pss_kib"]:
            problems.append(f"twin {p['app']} maps the shared runtime {library}")
    outside = {p["app"]: p["pss_kib"] - p["runtime_pss_kib"] for p in split_run}
    for p in twin_run:
        p["runtime_pss_kib"] = max(0, p["pss_kib"] - outside[p["app"]])

    def totals(run: list[dict]) -> dict:
        return {"processes": [{k: v for k, v in p.items() if k != "report"} for p in run],
                "total_pss_kib": sum(p["pss_kib"] for p in run),
                "runtime_pss_kib": sum(p["runtime_pss_kib"] for p in run)}

    return {"split": totals(split_run), "self_contained": totals(twin_run)}


def measure(platform: Platform, split: AppSet, twins: AppSet, package: Path) -> dict:
    """The savings entry for one platform: disk always; processes where this machine runs them."""
    entry = {"rid": platform.rid, "package": package.name, "version": split.runtime.manifest["version"],
             "disk": disk(platform, split, twins)}
    if platform.run_mode == "none":
        entry |= {"how": f"not run (needs a {platform.runner} runner)", "memory": None, "plugin_host": None,
                  "problems": []}
    else:
        entry |= processes(platform, split, twins)
    entry["nativeaot"] = _nativeaot(platform, split, twins)
    entry["problems"] += entry["nativeaot"].pop("problems", [])
    entry["ok"] = not entry["problems"]
    return entry


def _nativeaot(platform: Platform, split: AppSet, twins: AppSet) -> dict:
    """The NativeAOT twins' entry, or why there are none on this machine."""
    if platform.rid not in nativeaot.BUILT_HERE:
        return {"how_built": nativeaot.NOT_BUILT.get(platform.rid, "not built here")}
    if default_dotnet() is None:
        return {"how_built": "not built (dotnet is not on PATH)"}
    return nativeaot.measure(platform, nativeaot.read(nativeaot_dir(twins.root)), split.runtime)


def summary(entry: dict) -> str:
    """One line for the pipeline's table."""
    d = entry["disk"]
    line = (f"disk {len(d['binaries'])} binaries: split {_kib(d['split_total_bytes'])} KiB vs self-contained "
            f"{_kib(d['self_contained_total_bytes'])} KiB, break-even N={d['break_even_n']}")
    if entry["memory"]:
        m = entry["memory"]
        line += f"; PSS {m['split']['total_pss_kib']} vs {m['self_contained']['total_pss_kib']} KiB"
    if entry["plugin_host"]:
        h = entry["plugin_host"]
        line += (f"; plugin host {h['split']['runtime_instances']} vs {h['self_contained']['runtime_instances']}"
                 " runtimes")
    return f"{line} ({entry['how']})"


# --- The report: JSON, SVG, and Markdown for the job summary ---------------------------------

SAVINGS = "savings.json"
CHART = "savings.svg"


def record(dist: Path, entry: dict) -> dict:
    """Merge one platform's entry into dist/savings.json (other platforms' entries stay, so
    platforms measured in separate jobs add up), redraw dist/savings.svg, add to the job summary."""
    path = dist / SAVINGS
    doc: dict[str, Any] = schemas.load("savings", path) if path.exists() else {"schema_version": 1, "platforms": {}}
    doc["platforms"] = dict(sorted({**doc["platforms"], entry["rid"]: entry}.items()))
    dist.mkdir(parents=True, exist_ok=True)
    schemas.dump("savings", doc, path)
    atomic_write_text(dist / CHART, svg(doc))
    append_job_summary(markdown(entry))
    return doc


def _bars(entry: dict) -> list[tuple[str, int, int]]:
    """(what, split KiB, self-contained KiB) for one platform: what the charts draw."""
    d = entry["disk"]
    bars = [(f"disk, {len(d['binaries'])} binaries", _kib(d["split_total_bytes"]),
             _kib(d["self_contained_total_bytes"]))]
    if entry["memory"]:
        m = entry["memory"]
        bars.append((f"PSS, {len(m['split']['processes'])} processes", m["split"]["total_pss_kib"],
                     m["self_contained"]["total_pss_kib"]))
    if entry["plugin_host"]:
        h = entry["plugin_host"]
        bars.append(("plugin host heap reserved", h["split"]["heap_reserved_kib"],
                     h["self_contained"]["heap_reserved_kib"]))
    return bars


def svg(doc: dict) -> str:
    labels, split, twins = [], [], []
    for rid, entry in doc["platforms"].items():
        for what, s, t in _bars(entry):
            labels.append(f"{rid} {what}")
            split.append(s)
            twins.append(t)
    # Whole decades around the data, bars from the bottom one: pygal's own log range starts at the
    # smallest value, which draws that bar empty.
    low, high = min(split + twins), max(split + twins)
    decades = (10 ** math.floor(math.log10(max(low, 1))), 10 ** math.ceil(math.log10(max(high, 1)) + 1e-9))
    chart = pygal.Bar(title="Runtime.Base: split vs self-contained (KiB, log scale)", logarithmic=True,
                      range=decades, zero=decades[0], x_label_rotation=30, truncate_label=-1,
                      legend_at_bottom=True, js=[], width=1200, height=700)
    chart.x_labels = labels
    chart.add("split (one shared runtime)", split)
    chart.add("self-contained (a runtime each)", twins)
    return chart.render(is_unicode=True)


def rows(entry: dict) -> list[tuple[str, str, str]]:
    """(measure, split, self-contained) for the table in the terminal and the job summary."""
    d = entry["disk"]
    out = [(f"disk, {len(d['binaries'])} binaries (KiB)", str(_kib(d["split_total_bytes"])),
            str(_kib(d["self_contained_total_bytes"]))),
           ("runtime per binary (KiB)", f"{_kib(d['runtime_bytes'])} once", f"{_kib(d['private_runtime_bytes'])} each"),
           ("break-even N", str(d["break_even_n"]), "")]
    if entry["memory"]:
        split, twins = entry["memory"]["split"], entry["memory"]["self_contained"]
        out += [(f"PSS, {len(split['processes'])} processes at once (KiB)", str(split["total_pss_kib"]),
                 str(twins["total_pss_kib"])),
                ("runtime's share of PSS (KiB)", str(split["runtime_pss_kib"]), str(twins["runtime_pss_kib"]))]
    if entry["plugin_host"]:
        h = entry["plugin_host"]
        out += [(f"plugin host: {label}", str(h["split"][key]), str(h["self_contained"][key]))
                for label, key in (("runtime instances", "runtime_instances"), ("GC heaps", "heaps"),
                                   ("heap reserved (KiB)", "heap_reserved_kib"), ("address space (KiB)", "vm_kib"),
                                   ("threads", "threads"))]
    return out + nativeaot_rows(entry)


def nativeaot_rows(entry: dict) -> list[tuple[str, str, str]]:
    """The NativeAOT twins' rows: the split column holds the split plugin host's figures."""
    aot = entry.get("nativeaot")
    if not aot:
        return []
    if "apps" not in aot:
        return [("C# apps, NativeAOT", "", aot["how_built"])]
    out = [("C# apps, NativeAOT: how built", "", f"{aot['how_built']} (SDK {aot['sdk_version']}, "
            f"ILCompiler {aot['ilcompiler_version']}, {aot['linker']})")]
    out += [(f"NativeAOT {a['app']}: size / runtime floor (KiB)", "",
             f"{_kib(a['bytes'])} / {_kib(a['floor']['bytes'])} (code {_kib(a['floor']['runtime_code_bytes'])})")
            for a in aot["apps"]]
    for row in aot.get("pss_kib_by_copies") or []:
        out.append((f"NativeAOT {row['app']}: PSS of 1/2/4 copies (KiB)", "",
                    " / ".join(str(row[n]) for n in ("1", "2", "4"))))
    split = (entry.get("plugin_host") or {}).get("split", {})
    for h in aot.get("plugin_hosts") or []:
        out.append((f"NativeAOT plugin host, {h['n']} plugins: runtimes, GC heaps, GC threads, threads",
                    f"{split.get('runtime_instances', '-')}, {split.get('heaps', '-')}",
                    f"{h['runtimes']}, {h['gc_heaps']}, {h['gc_threads']}, {h['threads']}"))
        out.append((f"NativeAOT plugin host, {h['n']} plugins: GC reserved / committed (MiB)",
                    str(split.get("heap_reserved_kib", 0) // 1024) if split else "-",
                    f"{h['gc_reserved_kib'] // 1024} / {h['gc_committed_kib'] / 1024:.1f}"))
    return out


def _mermaid(title: str, labels: list[str], y_axis: str, series: list[str]) -> str:
    quoted = ", ".join(f'"{label}"' for label in labels)
    return (f"```mermaid\nxychart-beta\n    title \"{title}\"\n    x-axis [{quoted}]\n    y-axis \"{y_axis}\"\n"
            + "".join(f"    {s}\n" for s in series) + "```\n\n")


def markdown(entry: dict) -> str:
    """The job summary: disk against N as two lines that cross at the break-even N, memory and
    heaps as bars (Mermaid has no log scale: each chart keeps to one magnitude), then the table."""
    rid, d = entry["rid"], entry["disk"]
    charts = _mermaid(f"{rid}: disk for N binaries (KiB), split (1st line) vs self-contained; "
                      f"break-even N={d['break_even_n']}",
                      [str(row["n"]) for row in d["by_n"]], "KiB",
                      [f"line [{', '.join(str(_kib(row[k])) for row in d['by_n'])}]"
                       for k in ("split_bytes", "self_contained_bytes")])
    in_mib = [(what, s, t) for what, s, t in _bars(entry)[1:]]
    if in_mib:
        charts += _mermaid(f"{rid}: memory (MiB), split vs self-contained",
                           [f"{what} {how}" for what, _, _ in in_mib for how in ("split", "self-contained")], "MiB",
                           [f"bar [{', '.join(f'{v / 1024:.1f}' for _, s, t in in_mib for v in (s, t))}]"])
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows(entry))
    return (f"## Savings {rid} ({entry['how']})\n\n{charts}"
            f"| measure | split | self-contained |\n| --- | --- | --- |\n{table}\n\n")
