"""JSON Schemas from packaging/: every reader and writer of our JSON validates against them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci.core.errors import InputError
from ci.core.fs import atomic_write_text, read_json
from ci.core.resources import packaging_file


def schema_file(name: str) -> Path:
    return packaging_file(f"{name}.schema.json")


if TYPE_CHECKING:
    import jsonschema


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    import jsonschema  # on first use: it takes ~40 ms to import, more than most commands need

    schema = json.loads(schema_file(name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate(name: str, data: object, source: Path | str) -> None:
    """Raise InputError naming `source` and the first violation, as one line."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator(name).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise InputError(source, f"fails {name} schema at {where}: {error.message}")


def load(name: str, path: Path) -> dict[str, Any]:
    data = read_json(path)
    validate(name, data, path)
    if not isinstance(data, dict):  # every schema's top level is an object
        raise InputError(path, f"fails {name} schema: not a JSON object")
    return data


def dump(name: str, data: dict[str, Any], path: Path) -> None:
    """Validate, then write atomically."""
    validate(name, data, path)
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
