"""JSON Schemas from packaging/: every reader and writer of our JSON validates against them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema

from .errors import InputError
from .exports import REPO_ROOT

SCHEMA_DIR = REPO_ROOT / "packaging"


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate(name: str, data: object, source: Path | str) -> None:
    """Raise InputError naming `source` and the first violation, as one line."""
    error = jsonschema.exceptions.best_match(_validator(name).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise InputError(source, f"fails {name} schema at {where}: {error.message}")


def load(name: str, path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    validate(name, data, path)
    return data


def dump(name: str, data: dict, path: Path) -> None:
    """Validate, then write atomically."""
    validate(name, data, path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
