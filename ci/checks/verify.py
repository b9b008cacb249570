"""Static checks over the binary model: apps import the runtime, never embed it.

For each app: it needs Runtime.Base by name, every symbol it imports from it is exported, it
imports no runtime-owned symbol from anywhere else, it defines none itself (a private copy), and
its architecture matches, and it needs no more of its target than the platform's floor. Private
copies are named by symbol from the app's full symbol table (.symtab, the COFF symbol table, or the
PDB beside a PE); without one, the NativeAOT markers (ci/binaries/nativeaot.py) still see an
embedded runtime and its .NET release. An app with neither is listed as not checkable.
Files in another format (Mach-O, archives) get one line each; the others are still checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ci.binaries import Binary, UnsupportedFormat, read_binary
from ci.binaries.model import UNKNOWN_LIBRARY
from ci.binaries.nativeaot import NativeAot, markers
from ci.binaries.resolve import find_needed
from ci.core.errors import InputError
from ci.platforms import for_binary
from ci.redist import floors

NO_SYMBOLS = "no symbols: private copies not checkable"
NO_SONAME = "has no soname (DT_SONAME): apps record its file name, so renaming it breaks them"


@dataclass(frozen=True)
class Violation:
    app: str
    symbol: str | None
    problem: str

    def __str__(self) -> str:
        return f"{self.app}: {self.symbol + ': ' if self.symbol else ''}{self.problem}"


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()  # PE names are case-insensitive; ELF sonames never differ by case only


def _not_exported_elsewhere(app: Binary, runtime_name: str, names: set[str]) -> set[str] | None:
    """Which of `names` no other needed library exports; None if one that might is not found here.

    Libraries are read in DT_NEEDED order and only until every name is found."""
    missing = set(names)
    lib_dirs = for_binary(app.format, app.arch).lib_dirs
    for needed in app.needed:
        if not missing:
            break
        if _same(needed, runtime_name):
            continue
        found = find_needed(app, needed, lib_dirs)
        if found is None:
            return None
        missing -= read_binary(found).export_names
    return missing


def check_app(runtime: Binary, app: Binary, runtime_aot: NativeAot | None = None,
              app_aot: NativeAot | None = None) -> list[Violation]:
    """The violations of `app`; the markers of both files are read unless given."""
    runtime_aot = runtime_aot or markers(runtime)
    app_aot = app_aot or markers(app)
    runtime_name = runtime.soname or runtime.path.name
    exported = runtime.export_names
    where = str(app.path)
    found: list[Violation] = []
    if (app.format, app.arch) != (runtime.format, runtime.arch):
        found.append(Violation(where, None, f"architecture {app.format}/{app.arch} does not match "
                                            f"Runtime.Base's {runtime.format}/{runtime.arch}"))
    if not any(_same(n, runtime_name) for n in app.needed):
        found.append(Violation(where, None, f"does not need {runtime_name} (needed: {', '.join(app.needed) or 'nothing'})"))
    for symbol in app.imports_from(runtime_name):
        if symbol.name not in exported:
            found.append(Violation(where, symbol.name, f"imported from {runtime_name}, which does not export it"))
    for library, symbols in sorted(app.imports.items()):
        if library and not _same(library, runtime_name):
            for symbol in symbols:
                if symbol.name in exported:
                    found.append(Violation(where, symbol.name, f"runtime symbol imported from {library}, not from {runtime_name}"))
    found += _check_unattributed(runtime_name, exported, app)
    platform = for_binary(runtime.format, runtime.arch)  # the target: the app's own arch may be wrong
    found += [Violation(where, None, problem)
              for problem in floors.problems(platform, floors.needs([app]), own=[runtime_name])]
    for name in sorted(app.runtime_symbols(exported)):
        found.append(Violation(where, name, "defined by the app itself: a private copy of the runtime is embedded"))
    if app_aot.embeds_runtime:
        found.append(Violation(where, None, f"embeds a private NativeAOT runtime ({app_aot.describe()}; markers: "
                                            f"{', '.join(app_aot.markers)})"))
    if app_aot.readytorun and runtime_aot.readytorun and app_aot.readytorun[0] != runtime_aot.readytorun[0]:
        # The runtime refuses a module of another ReadyToRun major version (RhRegisterOSModule).
        found.append(Violation(where, None, f"compiled for {app_aot.describe()}, but Runtime.Base is "
                                            f"{runtime_aot.describe()}"))
    return found


def _check_unattributed(runtime_name: str, exported: frozenset[str], app: Binary) -> list[Violation]:
    """Imports that name no library (unversioned ELF) resolve as the loader would."""
    pending = [s for s in app.imports.get(UNKNOWN_LIBRARY, ()) if s.name not in exported]
    if not pending:
        return []
    missing = _not_exported_elsewhere(app, runtime_name, {s.name for s in pending})
    if missing is None:
        return []  # a needed library is not on this machine: the loader decides, not us
    return [Violation(str(app.path), s.name, f"not exported by {runtime_name} nor by any other needed library")
            for s in pending if s.name in missing]


def verify(runtime_path: Path, app_paths: list[Path]) -> dict:
    runtime = read_binary(runtime_path)
    if runtime.kind != "shared-library":
        raise InputError(runtime_path, f"not a shared library ({runtime.kind}): --runtime takes the Runtime.Base library")
    runtime_aot = markers(runtime)
    apps = []
    violations: list[Violation] = []
    notes: list[str] = []
    unsupported: list[dict] = []
    binaries = [runtime]
    if runtime.format == "elf" and not runtime.soname:
        notes.append(f"{runtime_path}: {NO_SONAME}")
    for path in _expand(app_paths):
        try:
            app = read_binary(path)
        except UnsupportedFormat as exc:
            unsupported.append({"app": str(path), "format": exc.format})
            continue
        app_aot = markers(app)
        found = check_app(runtime, app, runtime_aot, app_aot)
        violations += found
        binaries.append(app)
        needed = floors.needs([app])
        record = {"app": str(path), "imports_from_runtime": len(app.imports_from(runtime.soname or runtime.path.name)),
                  "violations": len(found), "symbols": ", ".join(app.symbol_tables),
                  "glibc": needed["glibc"], "dlls": sorted(needed["dlls"]),
                  "nativeaot": _aot_record(app_aot)}
        by_ordinal = {dll: [s.ordinal for s in symbols if s.ordinal is not None]
                      for dll, symbols in {**app.imports, **app.delay_imports}.items()}
        if any(by_ordinal.values()):
            record["imports_by_ordinal"] = {dll: ordinals for dll, ordinals in by_ordinal.items() if ordinals}
        if app_aot.embeds_runtime and not app.private_copies_checkable:
            record["private_copies"] = f"embedded runtime seen from its markers ({app_aot.describe()}), not by symbol"
        elif not app.private_copies_checkable:
            # Only exported names are known: an embedded, unexported runtime copy would pass unseen.
            record["private_copies"] = NO_SYMBOLS
            notes.append(f"{path}: {NO_SYMBOLS}")
        apps.append(record)
    # What the runtime and the apps together need of their target (APIs per DLL stay in the manifest).
    needed = floors.needs(binaries)
    floor = {"glibc": needed["glibc"], "dlls": sorted(needed["dlls"]),
             "declared": floors.declared(for_binary(runtime.format, runtime.arch))}
    return {"runtime": str(runtime_path), "runtime_nativeaot": _aot_record(runtime_aot), "apps": apps,
            "unsupported": unsupported, "floor": floor, "violations": [asdict(v) for v in violations],
            "notes": notes, "ok": not violations and not unsupported}


def _aot_record(aot: NativeAot) -> dict:
    return {"release": aot.release, "readytorun": ".".join(map(str, aot.readytorun)) if aot.readytorun else None,
            "embeds_runtime": aot.embeds_runtime, "markers": list(aot.markers)}


def _expand(paths: list[Path]) -> list[Path]:
    """Each path, a directory as the regular files under it (sorted; symbolic links not followed)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            found += sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
        else:
            found.append(path)
    return found
