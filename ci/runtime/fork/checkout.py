"""Whether a tree is the split-runtime fork, and whether the fork has its Linux split yet.

The Linux split is judged by the real compiler, not by reading the source ourselves: the source
the outplace CMake project compiles, with the defines that project adds and the defines the
fork's CMake gives a Linux target, must compile (-fsyntax-only). When it does not, the
preprocessor (-E -dD) says where the missing macro is defined for Windows and what the other
branch defines instead, so the one-line reason names the file, the line and the fix.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ci.core.errors import CiError, InputError
from ci.core.proc import run
from ci.platforms import Platform
from ci.runtime.fork import cmake
from ci.runtime.fork.layout import FACTS, bootstrapper, missing_sources, shown_path

COMPILE_TIMEOUT = 120.0  # seconds: one small translation unit
_DIAGNOSTIC = re.compile(r"^(.+?):(\d+):(?:\d+:)? (?:fatal )?error: (.*)$", re.MULTILINE)
_QUOTED = re.compile(r"['\u2018\u2019]([A-Za-z_]\w*)['\u2018\u2019]")
_LINEMARKER = re.compile(r'^# (\d+) "((?:[^"\\]|\\.)*)"')
_DIRECTIVE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b")


def check_checkout(path: str | Path) -> Path:
    """The checkout's absolute path, or one error naming every piece of the fork it lacks."""
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise InputError(root, "not a directory (expected a checkout of the split-runtime fork)")
    gaps = missing_sources(root)
    if gaps:
        raise InputError(root, f"not a checkout of the split-runtime fork: missing {'; '.join(gaps)}")
    return root


# --- the compiler as the oracle -------------------------------------------------------------


@dataclass(frozen=True)
class Compiler:
    argv: tuple[str, ...]  # the driver and its target flag
    name: str  # clang or gcc: how diagnostics are worded


def target_defines(platform: Platform) -> list[str]:
    """What the fork's CMake defines for a target (eng/native/configurecompiler.cmake)."""
    defines = FACTS["compiler"]["defines"]
    return [*defines[platform.os], *defines[platform.arch]]


def find_compiler(platform: Platform, which=shutil.which) -> Compiler:
    """clang with the target's triple (its own target macros), else the target's gcc."""
    facts = FACTS["compiler"]
    triple = facts["triples"][platform.os].format(arch=facts["arch_names"][platform.arch])
    if which("clang++") or which("clang"):
        return Compiler((which("clang++") or which("clang"), f"--target={triple}"), "clang")
    gcc = f"{platform.toolchain.triplet}-g++" if platform.os == "linux" else None
    if gcc and which(gcc):
        return Compiler((gcc,), "gcc")
    raise CiError(f"{platform.rid}: no clang (or {gcc or 'gcc for the target'}) to check the fork's bootstrapper with")


def _compile(compiler: Compiler, source: Path, defines: list[str], mode: tuple[str, ...]) -> subprocess.CompletedProcess:
    # -ffreestanding: <stdint.h> (all main.h includes) comes from the compiler, whatever the target's libc.
    argv = [*compiler.argv, "-x", "c++", f"-std={FACTS['compiler']['cxx_standard']}", "-ffreestanding",
            "-fdiagnostics-color=never", *(f"-D{d}" for d in defines), *mode, source.name]
    try:
        return run(argv, cwd=source.parent, timeout=COMPILE_TIMEOUT, env={**os.environ, "LC_ALL": "C"})
    except CiError as exc:
        raise CiError(f"{source}: cannot run {argv[0]} to check the Linux split ({exc.message})") from None


def _defined_at(output: str, macro: str) -> tuple[str, int] | None:
    """Where `-E -dD` output says `macro` was defined: (file, line), following the line markers."""
    file, line = "", 0
    for text in output.splitlines():
        marker = _LINEMARKER.match(text)
        if marker:
            file, line = marker[2], int(marker[1])
            continue
        if re.match(rf"#define {re.escape(macro)}\b", text):
            return file, line
        line += 1
    return None


def _branch_after(source: Path, line: int) -> tuple[int, int] | None:
    """(#else line, #endif line) of the conditional whose first branch holds `line`; nesting only, no evaluation."""
    lines = source.read_text(encoding="utf-8", errors="replace").splitlines()
    depth = 0
    for number in range(line + 1, len(lines) + 1):
        directive = _DIRECTIVE.match(lines[number - 1])
        word = directive[1] if directive else ""
        if word.startswith("if"):
            depth += 1
        elif word == "endif" and depth:
            depth -= 1
        elif word in ("else", "elif") and not depth:
            end = next((n for n in range(number + 1, len(lines) + 1)
                        if (d := _DIRECTIVE.match(lines[n - 1])) and d[1] == "endif"), number)
            return number, end
        elif word == "endif":
            return None
    return None


def _defines_between(output: str, file: str, first: int, last: int) -> list[str]:
    names, where, line = [], "", 0
    for text in output.splitlines():
        marker = _LINEMARKER.match(text)
        if marker:
            where, line = marker[2], int(marker[1])
            continue
        define = re.match(r"#define (\w+)", text)
        if define and Path(where).name == Path(file).name and first < line < last:
            names.append(define[1])
        line += 1
    return names


# --- the Linux split ------------------------------------------------------------------------


@dataclass(frozen=True)
class LinuxSplit:
    ready: bool
    reason: str


def linux_split(checkout: Path, platform: Platform, compiler: Compiler | None = None) -> LinuxSplit:
    """Whether the outplace bootstrapper compiles for `platform` (a Linux rid), and if not why, in one line."""
    project = bootstrapper(checkout, "outplace")
    compiler = compiler or find_compiler(platform)
    linux = [*project.defines, *target_defines(platform)]
    problems = []
    for source in project.sources:
        rel = source.relative_to(checkout).as_posix()
        done = _compile(compiler, source, linux, ("-fsyntax-only",))
        if done.returncode == 0:
            continue
        problems.append(_explain(checkout, project, source, rel, done.stderr, compiler, platform))
    if problems:
        return LinuxSplit(False, "; ".join(problems))
    names = ", ".join(s.relative_to(checkout).as_posix() for s in project.sources)
    return LinuxSplit(True, f"{names} (project {project.name}, -D{' -D'.join(project.defines)}) compiles for "
                            f"{platform.rid} with {compiler.name}")


def _explain(checkout: Path, project: cmake.Project, source: Path, rel: str, stderr: str, compiler: Compiler,
             platform: Platform) -> str:
    first = _DIAGNOSTIC.search(stderr)
    if first is None:
        return f"{rel} does not compile for {platform.rid} ({compiler.name}: {stderr.strip()[:200] or 'no message'})"
    file, line, message = first[1], int(first[2]), first[3].strip()
    where = (source.parent / file).resolve() if not Path(file).is_absolute() else Path(file)
    at = f"{shown_path(where, checkout)}:{line}"
    text = where.read_text(encoding="utf-8", errors="replace").splitlines()[line - 1] if where.is_file() else ""
    quoted = _QUOTED.search(message)
    if not quoted or "InitializeRuntimeBase" not in text:
        return f"{at} does not compile for {platform.rid} with the {project.name} defines ({compiler.name}: {message})"
    macro = quoted[1]
    reason = f"{at} declares InitializeRuntimeBase with {macro}, which is undefined for non-Windows targets"
    checked, defined = _windows_definition(source, project, platform, macro)
    if not checked:
        return f"{reason}; fix: define {macro} for non-Windows targets too"
    if defined is None:
        return f"{at} declares InitializeRuntimeBase with {macro}, which no target defines; fix: define {macro}"
    def_file, def_line = defined
    def_rel = Path(def_file).name
    branch = _branch_after(source.parent / def_file, def_line)
    if branch is None:
        return (f"{reason} (defined only for Windows at {def_rel}:{def_line}); "
                f"fix: define {macro} for non-Windows targets too")
    else_line, endif_line = branch
    linux_dump = _compile(compiler, source, [*project.defines, *target_defines(platform)],
                          ("-E", "-dD"))
    instead = _defines_between(linux_dump.stdout, def_file, else_line, endif_line) if linux_dump.returncode == 0 else []
    other = f", its #else branch defines only {', '.join(instead)}" if instead else ""
    return (f"{reason} (defined only under the Windows branch at {def_rel}:{def_line}{other}); "
            f"fix: define {macro} for non-Windows targets too, e.g. in the #else branch at {def_rel}:{else_line}")


def _windows_definition(source: Path, project: cmake.Project, platform: Platform,
                        macro: str) -> tuple[bool, tuple[str, int] | None]:
    """(could check, where a Windows build of the same source defines `macro`): the preprocessor's -dD."""
    windows = Platform(rid=f"win-{platform.arch}", os="win", arch=platform.arch, toolchain=platform.toolchain,
                       runner=platform.runner)
    try:
        compiler = find_compiler(windows)
    except CiError:  # no clang for a Windows target here: the reason goes without the location
        return False, None
    dumped = _compile(compiler, source, [*project.defines, *target_defines(windows)], ("-E", "-dD"))
    return dumped.returncode == 0, _defined_at(dumped.stdout, macro) if dumped.returncode == 0 else None


def require_linux_split(checkout: Path, platform: Platform) -> None:
    split = linux_split(checkout, platform)
    if not split.ready:
        raise CiError(f"{platform.rid}: the fork has no Linux split yet, so nothing was built: {split.reason}")
