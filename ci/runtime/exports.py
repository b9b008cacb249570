"""Runtime.Base's export list: read from its one source, written as a GNU version script or a .def."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ci.binaries import read_binary
from ci.core.errors import CiError, InputError
from ci.core.resources import packaging_file

EXPORT_LIST = packaging_file("runtime-base-exports.txt")

#: Symbol version the exports carry on ELF, as ILC writes it.
ELF_VERSION = "V1.0"


@dataclass(frozen=True)
class Export:
    name: str
    data: bool = False


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
        if len(words) > 2 or (len(words) == 2 and words[1] != "DATA") or not words[0].isidentifier():
            raise InputError(path, f"line {number}: expected 'NAME' or 'NAME DATA', got {line.strip()!r}")
        exports.append(Export(words[0], data=len(words) == 2))
    names = [e.name for e in exports]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(path, f"{dup} is listed twice")
    if not exports:
        raise InputError(path, "lists no exports")
    return tuple(exports)


def version_script(exports: tuple[Export, ...]) -> str:
    """GNU ld version script; ',DATA' is a Windows notion and has no place here."""
    names = "".join(f"    {e.name};\n" for e in exports)
    return f"{ELF_VERSION} {{\n  global:\n{names}  local: *;\n}};\n"


def def_file(exports: tuple[Export, ...], library: str) -> str:
    """Windows module-definition file, data symbols marked DATA."""
    lines = [f"LIBRARY {library}", "EXPORTS"]
    lines += [f"    {e.name}{' DATA' if e.data else ''}" for e in exports]
    return "\n".join(lines) + "\n"


def write_exports_file(exports: tuple[Export, ...], fmt: str, library: str, directory: Path) -> Path:
    """The export list in the form a toolchain's linker takes (`Toolchain.exports_format`)."""
    writers = {"version-script": ("exports.map", lambda: version_script(exports)),
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


def check_library(library: Path, listed: tuple[Export, ...]) -> None:
    """A built runtime must export exactly the listed names, data as data, whatever built it."""
    built = {s.name: s.kind for s in read_binary(library).exports}
    wanted = {e.name: "data" if e.data else "function" for e in listed}
    missing = sorted(set(wanted) - set(built))
    extra = sorted(set(built) - set(wanted))
    wrong = sorted(n for n in set(wanted) & set(built) if wanted[n] != built[n])
    if missing or extra or wrong:
        parts = [f"{label}: {', '.join(names[:8])}" for label, names in
                 (("missing", missing), ("unexpected", extra), ("wrong kind", wrong)) if names]
        raise CiError(f"{library}: exports differ from {EXPORT_LIST.name} ({'; '.join(parts)})")
