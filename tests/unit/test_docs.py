"""The READMEs name only what exists, and ci/README.md's layer map lists every module."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

READMES = ["README.md", "ci/README.md", "containers/README.md"]
#: A repository path in backticks: a known top-level directory, then path characters.
TOP = ("ci", "containers", "packaging", "tests", "reference", "samples", "benchmarks", ".github", ".ci")
_PATH = re.compile(r"`((?:{})/[\w./-]*)`".format("|".join(re.escape(t) for t in TOP)))


def _named_paths(readme: str) -> list[str]:
    text = (REPO / readme).read_text()
    return sorted({m.rstrip("/") for m in _PATH.findall(text) if not any(c in m for c in "<>*")})


@pytest.mark.parametrize("readme", READMES)
def test_every_named_path_exists(readme):
    base = REPO / readme
    # ci/_packaging, ci/_sources: where the wheel puts the top-level trees, not in a checkout
    missing = [p for p in _named_paths(readme) if not (REPO / p).exists() and not p.startswith("ci/_")]
    assert not missing, f"{readme} names paths that do not exist: {missing}"
    assert _named_paths(readme) or readme == "containers/README.md", f"{readme}: the pattern found no path"
    assert base.is_file()


def test_the_layer_map_lists_every_module():
    """Each subpackage's line in the map names every module in it; top-level modules appear too."""
    text = (REPO / "ci" / "README.md").read_text()
    block = text.split("```")[1]
    lines: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        head = line.split()[0] if line.strip() and not line.startswith(" ") else None
        if head:
            current = head
            lines[current] = line
        elif current and line.strip():
            lines[current] += " " + line
    ci = REPO / "ci"
    missing = []
    for package in sorted(p for p in ci.iterdir() if (p / "__init__.py").is_file()):
        described = lines.get(f"{package.name}/", "")
        for module in sorted(package.rglob("*.py")):
            if module == package / "__init__.py":
                continue
            name = module.parent.name if module.stem == "__init__" else module.stem
            if not re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", described):
                missing.append(module.relative_to(ci).as_posix())
    for module in sorted(ci.glob("*.py")):
        if module.stem not in ("__init__", "__main__") and f"{module.name}" not in block:
            missing.append(module.name)
    assert not missing, f"ci/README.md's layer map omits: {missing}"
