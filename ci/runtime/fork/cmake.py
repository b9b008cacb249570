"""The few CMake commands the fork's bootstrapper projects use, read the way CMake reads them.

Hand-written on purpose: we need five commands (add_subdirectory, if/endif, project, set,
add_definitions/add_compile_definitions, add_library) from small files, and no maintained Python
CMake parser exists; anything else in a file is skipped, never guessed at.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ci.core.errors import InputError

_COMMAND = re.compile(r"([A-Za-z_]\w*)[ \t]*\(")
_ARGUMENT = re.compile(r'"((?:[^"\\]|\\.)*)"|([^\s()"]+)')
_VARIABLE = re.compile(r"\$\{(\w+)\}")


@dataclass(frozen=True)
class Command:
    name: str  # lower case, as CMake compares command names
    args: tuple[str, ...]
    line: int


def _strip_comments(text: str) -> str:
    """# to the end of the line, outside quoted arguments (bracket comments are not used there)."""
    return re.sub(r'("(?:[^"\\]|\\.)*")|#[^\n]*', lambda m: m.group(1) or "", text)


def commands(path: Path) -> list[Command]:
    """Every command invocation in a CMakeLists.txt, with its arguments and line."""
    try:
        text = _strip_comments(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from None
    found, at = [], 0
    while match := _COMMAND.search(text, at):
        depth, end = 1, match.end()
        while depth and end < len(text):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        if depth:
            raise InputError(path, f"line {text.count(chr(10), 0, match.start()) + 1}: unbalanced parentheses")
        inner = text[match.end():end - 1]
        args = tuple(m[1] if m[1] is not None else m[2] for m in _ARGUMENT.finditer(inner))
        found.append(Command(match[1].lower(), args, text.count("\n", 0, match.start()) + 1))
        at = end
    return found


@dataclass(frozen=True)
class Subdirectory:
    name: str
    condition: str  # the if() it sits in ('' when none), e.g. "CLR_CMAKE_TARGET_WIN32"
    line: int


def subdirectories(path: Path) -> list[Subdirectory]:
    """add_subdirectory() lines, each with the if() conditions around it."""
    found, conditions = [], []
    for cmd in commands(path):
        if cmd.name == "if":
            conditions.append(" ".join(cmd.args))
        elif cmd.name == "endif" and conditions:
            conditions.pop()
        elif cmd.name == "add_subdirectory" and cmd.args:
            found.append(Subdirectory(cmd.args[0], " AND ".join(conditions), cmd.line))
    return found


@dataclass(frozen=True)
class Project:
    """A bootstrapper's CMake project: its name, the sources it compiles and the defines it adds."""

    name: str
    cmake: Path
    sources: tuple[Path, ...]
    defines: tuple[str, ...]  # NAME or NAME=VALUE
    condition: str  # the if() around its add_subdirectory line


def project(cmake: Path, condition: str = "") -> Project:
    """project(), set() variables, add_definitions(-D...) / add_compile_definitions() and add_library()."""
    variables: dict[str, list[str]] = {}
    name, sources, defines = None, [], []

    def expand(args: tuple[str, ...]) -> list[str]:
        out = []
        for arg in args:
            whole = _VARIABLE.fullmatch(arg)
            if whole:
                out += variables.get(whole[1], [])
            else:
                out.append(_VARIABLE.sub(lambda m: " ".join(variables.get(m[1], [])), arg))
        return out

    for cmd in commands(cmake):
        if cmd.name == "project" and cmd.args:
            name = cmd.args[0]
        elif cmd.name == "set" and cmd.args:
            variables[cmd.args[0]] = expand(cmd.args[1:])
        elif cmd.name == "add_definitions":
            defines += [a[2:] for a in expand(cmd.args) if a.startswith(("-D", "/D"))]
        elif cmd.name == "add_compile_definitions":
            defines += [a for a in expand(cmd.args) if "$<" not in a]
        elif cmd.name == "add_library" and cmd.args and cmd.args[0] == name:
            kinds = {"STATIC", "SHARED", "OBJECT", "MODULE", "EXCLUDE_FROM_ALL"}
            sources += [Path(os.path.normpath(cmake.parent / s)) for s in expand(cmd.args[1:]) if s not in kinds]
    if name is None:
        raise InputError(cmake, "no project() command")
    return Project(name, cmake, tuple(dict.fromkeys(sources)), tuple(defines), condition)
