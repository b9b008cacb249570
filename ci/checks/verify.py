"""Static checks over the binary model: apps import the runtime, never embed it.

For each app: it needs Runtime.Base by name, every symbol it imports from it is exported, it
imports no runtime-owned symbol from anywhere else, it defines none itself (a private copy), and
its architecture matches, and it needs no more of its target than the platform's floor. The
private-copy check needs the app's full symbol table (.symtab, the COFF symbol table, or the PDB
beside a PE); an app without one is listed as not checkable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ci.binaries import Binary, read_binary
from ci.binaries.model import UNKNOWN_LIBRARY
from ci.binaries.resolve import find_needed
from ci.core.errors import InputError
from ci.platforms import for_binary
from ci.redist import floors

NO_SYMBOLS = "no symbols: private copies not checkable"


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


def check_app(runtime: Binary, app: Binary) -> list[Violation]:
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
    apps = []
    violations: list[Violation] = []
    notes: list[str] = []
    binaries = [runtime]
    for path in app_paths:
        app = read_binary(path)
        found = check_app(runtime, app)
        violations += found
        binaries.append(app)
        needed = floors.needs([app])
        record = {"app": str(path), "imports_from_runtime": len(app.imports_from(runtime.soname or runtime.path.name)),
                  "violations": len(found), "symbols": ", ".join(app.symbol_tables),
                  "glibc": needed["glibc"], "dlls": sorted(needed["dlls"])}
        if not app.private_copies_checkable:
            # Only exported names are known: an embedded, unexported runtime copy would pass unseen.
            record["private_copies"] = NO_SYMBOLS
            notes.append(f"{path}: {NO_SYMBOLS}")
        apps.append(record)
    # What the runtime and the apps together need of their target (APIs per DLL stay in the manifest).
    needed = floors.needs(binaries)
    floor = {"glibc": needed["glibc"], "dlls": sorted(needed["dlls"]),
             "declared": floors.declared(for_binary(runtime.format, runtime.arch))}
    return {"runtime": str(runtime_path), "apps": apps, "floor": floor, "violations": [asdict(v) for v in violations],
            "notes": notes, "ok": not violations}
