"""Where the package's own files are: the definition of the redistributable (`packaging/`: schemas,
export list, archive layout), the fork's build data inside `ci` (`ci/data/`), and the source trees
(`reference/`, `samples/`). The wheel ships copies of the top-level trees inside `ci` (pyproject's
force-include); a checkout has them at its root. All are read through importlib.resources, so an
installed wheel works anywhere."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ci.core.errors import CiError

_PACKAGE_DIR = Path(str(resources.files("ci")))
#: Copies of the source trees inside an installed wheel (see pyproject's force-include).
_SHIPPED_SOURCES = _PACKAGE_DIR / "_sources"
#: The wheel's copy of `packaging/`. Never importable: a package named `packaging` would shadow
#: PyPA's, which the project imports.
_SHIPPED_PACKAGING = _PACKAGE_DIR / "_packaging"
#: The checkout this package runs from, if it runs from one (editable install or `python -m ci`).
_CHECKOUT = _PACKAGE_DIR.parent


def data_file(name: str) -> Path:
    """A file of the fork's build data in `ci/data/` (its facts, the link plan)."""
    path = _PACKAGE_DIR / "data" / name
    if not path.is_file():
        raise CiError(f"{name}: missing from the installed runtime-base-ci package (reinstall it)")
    return path


def packaging_file(name: str) -> Path:
    """A file of `packaging/` (schemas, export list, archive layout): the wheel's copy, else the checkout's."""
    for root in (_SHIPPED_PACKAGING, _CHECKOUT / "packaging"):
        if (root / name).is_file():
            return root / name
    raise CiError(f"packaging/{name}: not in the installed package nor in a checkout beside it (reinstall runtime-base-ci)")


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
