"""Runtime.Base's export list: read from its one source, written as a GNU version script or a .def."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ci.binaries import read_binary
from ci.core.errors import CiError, InputError
from ci.core.resources import packaging_file

EXPORT_LIST = packaging_file("runtime-base-exports.txt")

#: ELF symbol versions: one node per minor release, RUNTIME_BASE_<major>.<minor>, each inheriting
#: the one before, as glibc's GLIBC_2.x nodes do. An app records the newest node whose symbols it
#: uses, so the loader refuses it on an older minor ("version ... not found") instead of letting it
#: fail at its first call.
NODE_PREFIX = "RUNTIME_BASE_"


_NODE = re.compile(re.escape(NODE_PREFIX) + r"(\d+)\.(\d+)")


def version_node(major: int, minor: int) -> str:
    return f"{NODE_PREFIX}{major}.{minor}"


def node_release(name: str) -> tuple[int, int] | None:
    """(major, minor) of a RUNTIME_BASE_<major>.<minor> node; None for any other version name."""
    match = _NODE.fullmatch(name)
    return (int(match[1]), int(match[2])) if match else None


def newest_node(names: Iterable[str | None]) -> str | None:
    """The newest Runtime.Base node among symbol version names (others are ignored)."""
    nodes = [n for n in set(names) if n and node_release(n)]
    return max(nodes, key=lambda n: node_release(n) or (0, 0), default=None)


@dataclass(frozen=True)
class Export:
    name: str
    data: bool = False
    minor: int = 0  # the minor release of the current major that added it (`@<major>.<minor>` in the list)


def read_exports(path: Path = EXPORT_LIST) -> tuple[Export, ...]:
    exports: list[Export] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(path, f"cannot read export list ({exc.strerror})") from None
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        since = words.pop() if len(words) > 1 and words[-1].startswith("@") else None
        minor = _since_minor(since) if since else 0
        if (len(words) > 2 or (len(words) == 2 and words[1] != "DATA") or not words[0].isidentifier()
                or minor is None):
            raise InputError(path, f"line {number}: expected 'NAME [DATA] [@<major>.<minor>]', got {line.strip()!r}")
        exports.append(Export(words[0], data=len(words) == 2, minor=minor))
    names = [e.name for e in exports]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(path, f"{dup} is listed twice")
    if not exports:
        raise InputError(path, "lists no exports")
    return tuple(exports)


def _since_minor(word: str) -> int | None:
    major, dot, minor = word[1:].partition(".")
    return int(minor) if dot and major.isdigit() and minor.isdigit() else None


def version_script(exports: tuple[Export, ...], major: int, minor: int) -> str:
    """GNU ld version script with a node per minor 0..`minor` of `major`, each export in the node of
    the minor that added it; ',DATA' is a Windows notion and has no place here."""
    if ahead := [e.name for e in exports if e.minor > minor]:
        raise CiError(f"{EXPORT_LIST.name}: {', '.join(ahead)} added after {major}.{minor}, the version being built")
    nodes = []
    for node_minor in range(minor + 1):
        names = "".join(f"    {e.name};\n" for e in exports if e.minor == node_minor)
        body = f"  global:\n{names}" if names else ""
        local = "  local: *;\n" if node_minor == 0 else ""
        parent = f" {version_node(major, node_minor - 1)}" if node_minor else ""
        nodes.append(f"{version_node(major, node_minor)} {{\n{body}{local}}}{parent};\n")
    return "".join(nodes)


def node_of(export: Export, major: int) -> str:
    return version_node(major, export.minor)


def def_file(exports: tuple[Export, ...], library: str) -> str:
    """Windows module-definition file, data symbols marked DATA."""
    lines = [f"LIBRARY {library}", "EXPORTS"]
    lines += [f"    {e.name}{' DATA' if e.data else ''}" for e in exports]
    return "\n".join(lines) + "\n"


def write_exports_file(exports: tuple[Export, ...], fmt: str, library: str, directory: Path,
                       major: int, minor: int) -> Path:
    """The export list in the form a toolchain's linker takes (`Toolchain.exports_format`)."""
    writers = {"version-script": ("exports.map", lambda: version_script(exports, major, minor)),
               "def": ("Runtime.Base.def", lambda: def_file(exports, library))}
    name, render = writers[fmt]
    path = directory / name
    path.write_text(render())
    return path


def ilc_export_args(exports: tuple[Export, ...], os_name: str) -> list[str]:
    """ILC's --export-dynamic-symbol arguments; ',DATA' only where the .def knows it (Windows)."""
    return [f"--export-dynamic-symbol:{e.name}{',DATA' if e.data and os_name == 'win' else ''}" for e in exports]


def exported_names(text: str) -> set[str]:
    """Names in an exports file as ILC writes it: a .def (after EXPORTS) or a GNU version script."""
    lines = [line.split(";", 1)[0].strip() for line in text.splitlines()]
    if "EXPORTS" in lines:
        after = lines[lines.index("EXPORTS") + 1:]
        return {line.split()[0] for line in after if line}
    names = " ".join(text.split("global:", 1)[-1].split("local:", 1)[0].split())
    return {n.strip() for n in names.split(";") if n.strip()}


def check_library(library: Path, listed: tuple[Export, ...], major: int) -> None:
    """A built runtime must export exactly the listed names, data as data, each in its version node
    where the format has them (ELF), whatever built it."""
    symbols = read_binary(library).exports
    built = {s.name: s.kind for s in symbols}
    wanted = {e.name: "data" if e.data else "function" for e in listed}
    missing = sorted(set(wanted) - set(built))
    extra = sorted(set(built) - set(wanted))
    wrong = sorted(n for n in set(wanted) & set(built) if wanted[n] != built[n])
    nodes = {e.name: node_of(e, major) for e in listed}
    misplaced = sorted(s.name for s in symbols if s.version is not None and s.name in nodes
                       and s.version != nodes[s.name])
    if missing or extra or wrong or misplaced:
        parts = [f"{label}: {', '.join(names[:8])}" for label, names in
                 (("missing", missing), ("unexpected", extra), ("wrong kind", wrong),
                  ("wrong version node", misplaced)) if names]
        raise CiError(f"{library}: exports differ from {EXPORT_LIST.name} ({'; '.join(parts)})")
