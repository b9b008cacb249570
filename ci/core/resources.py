"""Where the package's own files are: data shipped inside `ci` (read with importlib.resources, so
an installed wheel works anywhere), and the source trees (`reference/`, `samples/`) that the wheel
ships as copies and a checkout has at its root."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ci.core.errors import CiError

_PACKAGE_DIR = Path(str(resources.files("ci")))
#: Copies of the source trees inside an installed wheel (see pyproject's force-include).
_SHIPPED_SOURCES = _PACKAGE_DIR / "_sources"
#: The checkout this package runs from, if it runs from one (editable install or `python -m ci`).
_CHECKOUT = _PACKAGE_DIR.parent


def data_file(name: str) -> Path:
    """A data file shipped in `ci/data/` (export list, schemas, layout, link plan)."""
    path = _PACKAGE_DIR / "data" / name
    if not path.is_file():
        raise CiError(f"{name}: missing from the installed runtime-base-ci package (reinstall it)")
    return path


def source_tree(name: str) -> Path:
    """`reference` or `samples`: the wheel's shipped copy, else the checkout's."""
    for root in (_SHIPPED_SOURCES, _CHECKOUT):
        if (root / name).is_dir():
            return root / name
    raise CiError(f"{name}/: not in the installed package nor in a checkout beside it (reinstall runtime-base-ci)")


def checkout_root() -> Path:
    """The repository checkout, for what needs the whole tree (container builds, local provenance)."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "containers").is_dir():
        return _CHECKOUT
    raise CiError("this needs a runtime-base-ci checkout (containers/, pyproject.toml); "
                  "the installed package alone does not carry them: run it from a clone")
