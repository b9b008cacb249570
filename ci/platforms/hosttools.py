"""Finding a toolchain's programs and headers on the host it runs on.

Nothing is assumed about the host's layout: a program is looked up on PATH under each name it
may have (Debian's cross tools are `<triplet>-` prefixed, a Windows runner's MinGW in
C:\\mingw64\\bin is not; actions/runner-images Install-Mingw64.ps1 @ 90dbafb puts that directory
on PATH), beside the compiler that will use it, or by asking the compiler (`-dumpmachine`,
`-print-prog-name`, its `#include <...>` search list, `--print-resource-dir`). Every candidate is
checked before it is used, so a host gcc is never taken for a MinGW one. A search that finds
nothing is one error naming what is missing and everything that was tried.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci.core.errors import CiError, EnvironmentProblem
from ci.core.proc import run

#: A compiler answers in well under a second; a hung one must not hang the pipeline.
ASK_TIMEOUT = 60


@dataclass(frozen=True)
class Found:
    """One tool or header directory, and how it was found (for the log and the report)."""

    role: str
    path: str
    how: str


class ToolMissing(EnvironmentProblem):
    """No candidate fits: the machine lacks a tool (exit 3, the README's exit-code table)."""


#: A candidate: how it is looked up (said in the error when nothing fits), and its path if it exists.
Candidate = tuple[str, "str | None"]


def on_path(name: str, search: str | None) -> Candidate:
    """`name` on PATH (`search`, default the environment's); on Windows PATHEXT adds `.exe`."""
    found = shutil.which(name, path=search)
    return f"{name} on PATH", found and os.path.abspath(found)  # a relative PATH entry must not follow a cwd


def beside(tool: str, name: str) -> Candidate:
    """`name` in the directory of the (symlink-resolved) `tool`: the same installation."""
    directory = Path(os.path.realpath(tool)).parent
    return f"{name} beside {tool}", shutil.which(name, path=str(directory))


def ask(argv: Sequence[str], stdin: str = "") -> tuple[str, str] | None:
    """A tool's (stdout, stderr) for `stdin` (default empty), or None when it cannot run or fails."""
    try:
        done = run(argv, input=stdin, timeout=ASK_TIMEOUT)
    except CiError:  # not there, or hung
        return None
    return (done.stdout, done.stderr) if done.returncode == 0 else None


#: Whether a candidate fits, and what was seen (e.g. its `-dumpmachine`).
Verdict = tuple[bool, str]


def exists(path: str) -> Verdict:
    return True, ""


def first(owner: str, role: str, candidates: Iterable[Candidate], hint: str,
          accept: Callable[[str], Verdict] = exists) -> Found:
    """The first candidate that exists and that `accept` takes."""
    tried = []
    for how, path in candidates:
        if not path:
            tried.append(f"{how}: absent")
            continue
        ok, seen = accept(path)
        if ok:
            return Found(role, path, f"{how}{f' ({seen})' if seen else ''}")
        tried.append(f"{how}: {path} {seen}")
    raise ToolMissing(f"{owner}: no {role} found; tried {'; '.join(tried) or 'nothing'} ({hint})")


def dumpmachine(cc: str) -> str | None:
    out = ask([cc, "-dumpmachine"])
    return out[0].strip() if out else None


def same_target(machine: str | None, triplet: str) -> bool:
    """Same CPU and OS: x86_64-w64-mingw32 matches x86_64-w64-mingw32, not x86_64-linux-gnu; a
    distribution's vendor field (x86_64-redhat-linux) does not matter."""
    if not machine:
        return False
    cpu, *rest = machine.split("-")
    want_cpu, *want_rest = triplet.split("-")
    system = "mingw32" if "mingw32" in want_rest else "linux"
    return cpu == want_cpu and system in rest


def own_program(cc: str, name: str) -> Candidate:
    """The program gcc itself runs or ships beside its libexec dir (`-print-prog-name`): its own binutils."""
    out = ask([cc, f"-print-prog-name={name}"])
    path = out[0].strip() if out else ""
    found = path if os.path.isabs(path) and os.path.isfile(path) else None
    return f"{Path(cc).name} -print-prog-name={name}", found and os.path.normpath(found)


def include_dirs(cc: Sequence[str]) -> list[Path]:
    """The compiler's `#include <...>` search list, as it prints it for `-E -v` (gcc and clang alike)."""
    out = ask([*cc, "-xc", "-E", "-v", "-"])
    if not out:
        return []
    lines = out[1].splitlines()
    try:
        start = lines.index("#include <...> search starts here:") + 1
        end = lines.index("End of search list.", start)
    except ValueError:
        return []
    return [Path(os.path.normpath(line.strip())) for line in lines[start:end]]


def header_dir(cc: Sequence[str], header: str) -> Candidate:
    """The directory of the compiler's search list that holds `header`."""
    found = next((d for d in include_dirs(cc) if (d / header).is_file()), None)
    return f"{header} in {' '.join([Path(cc[0]).name, *cc[1:]])}'s #include search list", str(found) if found else None


def resource_headers(clang: str) -> Candidate:
    """clang's builtin headers (stddef.h, arm_neon.h...), in `--print-resource-dir`/include: the
    only system headers a `-nostdlibinc` compile still uses, and missing from broken installs."""
    out = ask([clang, "--print-resource-dir"])
    include = Path(out[0].strip()) / "include" if out else None
    found = include if include and (include / "stddef.h").is_file() else None
    return f"stddef.h in {Path(clang).name} --print-resource-dir", str(found) if found else None


def targets(triplet: str) -> Callable[[str], Verdict]:
    """Accept a compiler whose `-dumpmachine` is `triplet`'s target."""
    def accept(cc: str) -> Verdict:
        machine = dumpmachine(cc)
        return same_target(machine, triplet), f"-dumpmachine {machine or 'failed'}"
    return accept


def c_runtime(cc: str) -> str | None:
    """The Windows C runtime a MinGW gcc links by default, "ucrt" or "msvcrt": mingw-w64's _mingw.h
    defines `_UCRT` in a UCRT build (the windows-2025 image's: its toolset's mingw "runtime" is
    "ucrt"), else only `__MSVCRT_VERSION__` (Debian's: 0x700, msvcrt). None when gcc cannot say."""
    out = ask([cc, "-dM", "-E", "-xc", "-"], stdin="#include <stdio.h>\n")
    macros = [line.split()[1] for line in out[0].splitlines() if line.startswith("#define ")] if out else []
    return "ucrt" if "_UCRT" in macros else "msvcrt" if "__MSVCRT_VERSION__" in macros else None


def writes(bfd: str) -> Callable[[str], Verdict]:
    """Accept a GNU objcopy that lists `bfd` among its supported targets (`--help` ends with them)."""
    def accept(objcopy: str) -> Verdict:
        out = ask([objcopy, "--help"])
        listed = out[0].rpartition("supported targets:")[2].split() if out else []
        return (True, f"supports {bfd}") if bfd in listed else (False, f"does not support {bfd}")
    return accept
