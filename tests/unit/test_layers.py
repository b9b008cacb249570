"""The package's layers: a module imports only its own subpackage and the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CI = Path(__file__).resolve().parents[2] / "ci"

#: Bottom to top. A module may import from its own layer and any layer listed before it.
LAYERS = ["core", "platforms", "binaries", "runtime", "redist", "checks", "release", "containers",
          "report", "pipeline", "cli", "__main__"]


def layer_of(module: str) -> str:
    parts = module.split(".")
    assert parts[0] == "ci", module
    return parts[1] if len(parts) > 1 else "__init__"


def _is_module(name: str) -> bool:
    path = CI.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """Every `ci` module `path` imports, at the top or inside a function (a deferred import is an
    import all the same)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "ci":
            if node.module != "ci":  # `from ci import platforms` imports ci.platforms, nothing of ci itself
                found.add(node.module)
            # `from ci.redist import sdk` imports the module ci.redist.sdk
            found.update(f"{node.module}.{a.name}" for a in node.names if _is_module(f"{node.module}.{a.name}"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "ci")
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; the layers are checked on absolute ones")
    return found


MODULES = sorted(p for p in CI.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(CI.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(CI).as_posix())
def test_imports_point_down(path):
    own = layer_of("ci." + ".".join(path.relative_to(CI).with_suffix("").parts))
    if own == "__init__":
        return
    allowed = set(LAYERS[: LAYERS.index(own) + 1])
    wrong = sorted(m for m in imported_modules(path) if layer_of(m) not in allowed)
    assert not wrong, f"{path.relative_to(CI)} ({own}) imports from higher layers: {wrong}"


def test_every_subpackage_has_a_layer():
    subpackages = {p.name for p in CI.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in CI.glob("*.py") if p.stem != "__init__"}
    assert subpackages | modules <= set(LAYERS), (subpackages | modules) - set(LAYERS)


def test_nothing_in_the_package_imports_tests_or_benchmarks():
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] not in ("tests", "benchmarks"), path


def test_no_import_cycle():
    """Not even inside a layer: a cycle means two modules are one, or one holds what both need."""
    graph = {module_name(p): sorted(m for m in imported_modules(p) if _is_module(m)) for p in MODULES}
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        path.append(module)
        for target in graph.get(module, []):
            if target == module:
                continue
            if state.get(target) == "open":
                cycle = [*path[path.index(target):], target]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
