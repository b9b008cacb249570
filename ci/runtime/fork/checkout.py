"""Whether a tree is the split-runtime fork, and whether the fork has its Linux split yet."""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass
from pathlib import Path

from ci.core.errors import CiError, InputError
from ci.platforms import Platform
from ci.runtime.fork.layout import BOOTSTRAP_DIR, BOOTSTRAPPERS, bootstrap_sources, missing_sources

def check_checkout(path: str | Path) -> Path:
    """The checkout's absolute path, or one error naming every piece of the fork it lacks."""
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise InputError(root, "not a directory (expected a checkout of the split-runtime fork)")
    gaps = missing_sources(root)
    if gaps:
        raise InputError(root, f"not a checkout of the split-runtime fork: missing {'; '.join(gaps)}")
    return root


# --- the Linux split: detected in the bootstrapper's source, not assumed ----------------------

# What a Linux build of the fork defines: the compiler's own macros and those eng/native's CMake adds.
LINUX_MACROS = frozenset({"__linux__", "__unix__", "__ELF__", "__GNUC__", "__clang__", "TARGET_UNIX",
                          "TARGET_LINUX", "HOST_UNIX", "HOST_LINUX", "TARGET_64BIT", "HOST_64BIT"})
HEADER_SUFFIXES = (".h", ".hpp", ".inc")
_DIRECTIVE = re.compile(r"\s*#\s*(\w+)\s*(.*)")
_DECLARATION = re.compile(r"(.*?)\bInitializeRuntimeBase\s*\([^()]*\)\s*", re.DOTALL)
_ATTRIBUTES = re.compile(r"__declspec\s*\([^()]*\)|__attribute__\s*\(\(.*?\)\)", re.DOTALL)


@dataclass(frozen=True)
class _Found:
    name: str  # the macro defined, or the identifiers in a declaration's prefix
    where: str  # path:line
    on_linux: bool  # the line is compiled for Linux
    windows_only_syntax: bool = False  # a __declspec in a declaration


@dataclass(frozen=True)
class LinuxSplit:
    ready: bool
    reason: str


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) with comments removed and backslash continuations joined."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), text, flags=re.DOTALL)
    text = re.sub(r"//[^\n]*", "", text)
    joined: list[tuple[int, str]] = []
    carry: tuple[int, str] | None = None
    for number, line in enumerate(text.split("\n"), 1):
        start, prefix = carry or (number, "")
        carry = (start, prefix + line[:-1] + " ") if line.endswith("\\") else None
        if carry is None:
            joined.append((start, prefix + line))
    return joined


def _if_value(expression: str, defined: set[str]) -> bool:
    """An #if expression on Linux; anything this cannot evaluate counts as false (not assumed)."""
    def value(name: str) -> str:
        return " 1 " if name in defined else " 0 "

    def number(literal: str) -> str:
        digits = literal.rstrip("uUlL")
        return str(int(digits, 16 if digits[:2].lower() == "0x" else 10))

    expr = re.sub(r"\bdefined\s*(?:\(\s*(\w+)\s*\)|(\w+))", lambda m: value(m[1] or m[2]), expression)
    expr = re.sub(r"\b0[xX][0-9a-fA-F]+[uUlL]*|\b\d+[uUlL]*", lambda m: number(m.group()), expr)
    expr = re.sub(r"\b[A-Za-z_]\w*", lambda m: value(m.group()), expr)
    expr = re.sub(r"!(?!=)", " not ", expr.replace("&&", " and ").replace("||", " or "))
    if not re.fullmatch(r"(?:\s|\d+|and|or|not|[=!<>]=|[<>()+*-])*", expr):
        return False
    try:
        return bool(_arithmetic(ast.parse(expr.strip(), mode="eval").body))
    except (SyntaxError, ValueError, RecursionError):
        return False


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}


def _arithmetic(node: ast.AST) -> int:
    """Integers, + - *, comparisons, and/or/not: the #if subset; anything else is a ValueError."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        operand = _arithmetic(node.operand)
        return int(not operand) if isinstance(node.op, ast.Not) else -operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_arithmetic(node.left), _arithmetic(node.right))
    if isinstance(node, ast.BoolOp):
        values = [_arithmetic(v) for v in node.values]
        return int(all(values) if isinstance(node.op, ast.And) else any(values))
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left, result = _arithmetic(node.left), True
        for op, right_node in zip(node.ops, node.comparators):
            right = _arithmetic(right_node)
            result, left = result and _COMPARE[type(op)](left, right), right
        return int(result)
    raise ValueError(f"not an #if expression: {ast.dump(node)[:60]}")


def _scan(path: Path, checkout: Path) -> tuple[list[_Found], list[_Found]]:
    """(#defines, declarations of InitializeRuntimeBase) in one source, each known to be on Linux or not."""
    defined, stack = set(LINUX_MACROS), []  # stack: per open #if, [a branch was taken, this branch is on]
    defines, declarations, statement, statement_at = [], [], "", ""
    rel = path.relative_to(checkout).as_posix()
    for number, line in _logical_lines(path.read_text(encoding="utf-8", errors="replace")):
        on = all(frame[1] for frame in stack)
        directive = _DIRECTIVE.fullmatch(line)
        if directive:
            _preprocess(directive[1], directive[2].strip(), stack, defined, on)
            if directive[1] == "define" and directive[2].split():
                defines.append(_Found(re.split(r"[\s(]", directive[2].strip(), maxsplit=1)[0], f"{rel}:{number}", on))
            continue
        for piece in re.split(r"([;{}])", line):
            if piece in (";", "{", "}"):
                found = _declaration(statement, statement_at, on)
                declarations += [found] if found else []
                statement = ""
            elif piece.strip():
                statement_at = statement_at if statement else f"{rel}:{number}"
                statement = f"{statement} {piece}" if statement else piece
    return defines, declarations


def _preprocess(word: str, rest: str, stack: list[list[bool]], defined: set[str], on: bool) -> None:
    name = (rest.split() or [""])[0]
    if word == "ifdef":
        stack.append([name in defined] * 2)
    elif word == "ifndef":
        stack.append([name not in defined] * 2)
    elif word == "if":
        stack.append([_if_value(rest, defined)] * 2)
    elif word in ("elif", "else") and stack:
        branch = not stack[-1][0] and (word == "else" or _if_value(rest, defined))
        stack[-1] = [stack[-1][0] or branch, branch]
    elif word == "endif" and stack:
        stack.pop()
    elif word == "define" and on:
        defined.add(re.split(r"[\s(]", rest, maxsplit=1)[0])
    elif word == "undef" and on:
        defined.discard(name)


def _declaration(statement: str, where: str, on: bool) -> _Found | None:
    """A declaration (not a call) of InitializeRuntimeBase: a type and maybe macros before the name."""
    match = _DECLARATION.fullmatch(statement.strip())
    if not match:
        return None
    prefix = _ATTRIBUTES.sub(" ", match[1])
    if not prefix.strip() or not re.fullmatch(r'[\w\s*&:"]*', prefix) or re.search(r"\breturn\b", prefix):
        return None
    words = re.findall(r"[A-Za-z_]\w*", re.sub(r'"[^"]*"', " ", prefix))  # not the "C" of extern "C"
    return _Found(" ".join(words), where, on, "__declspec" in match[1])


def linux_split(checkout: Path) -> LinuxSplit:
    """Whether the app-side bootstrapper can declare InitializeRuntimeBase when built for Linux."""
    sources = bootstrap_sources(checkout)
    outplace = bootstrap_sources(checkout, BOOTSTRAPPERS["outplace"])
    headers = {p: _scan(p, checkout)[0] for p in sources if p.suffix.lower() in HEADER_SUFFIXES}
    problems, declared = [], []
    for source in outplace:
        defines, declarations = _scan(source, checkout)
        # Macros the declaration can see: its own file's, and any header's (another .cpp's are not).
        definitions: dict[str, list[_Found]] = {}
        for found in (*defines, *(d for header, ds in headers.items() if header != source for d in ds)):
            definitions.setdefault(found.name, []).append(found)
        for declaration in declarations:
            problem = _linux_problem(declaration, definitions)
            if problem is None:
                return LinuxSplit(True, f"{declaration.where} declares InitializeRuntimeBase for Linux too")
            problems.append(problem)
        declared += declarations
    if not declared:
        files = ", ".join(p.relative_to(checkout).as_posix() for p in outplace)
        return LinuxSplit(False, f"no declaration of InitializeRuntimeBase in {files}, so its Linux form cannot be checked")
    return LinuxSplit(False, "; ".join(problems))


def _linux_problem(declaration: _Found, definitions: dict[str, list[_Found]]) -> str | None:
    where = declaration.where
    if not declaration.on_linux:
        return f"{where}: InitializeRuntimeBase is declared only for Windows"
    if declaration.windows_only_syntax:
        return f"{where}: InitializeRuntimeBase is declared with __declspec, which is Windows-only"
    for name in declaration.name.split():
        found = definitions.get(name)
        if found is None and re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            return f"{where}: InitializeRuntimeBase is declared with {name}, which is not defined under {BOOTSTRAP_DIR}"
        if found and not any(f.on_linux for f in found):
            return (f"{where}: InitializeRuntimeBase is declared with {name}, which is defined only for Windows "
                    f"or other non-Linux conditions ({', '.join(f.where for f in found)})")
    return None


def require_linux_split(checkout: Path, platform: Platform) -> None:
    split = linux_split(checkout)
    if not split.ready:
        raise CiError(f"{platform.rid}: the fork has no Linux split yet, so nothing was built: {split.reason}")


