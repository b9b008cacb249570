"""What GitHub answers: the fields we use of its release and asset objects, checked for type, and only
those kept, their strings redacted, so nothing else a server sends travels further."""

from __future__ import annotations

import json

import jsonschema

from ci.core.secrets import redact

# Text we may print: one line (no control characters), of a sane length.
_TEXT = {"type": "string", "pattern": r"^[^\x00-\x1f\x7f]*$", "maxLength": 2048}
# https://docs.github.com/en/rest/releases/releases and .../releases/assets. `digest` ("sha256:<hex>")
# is null for assets uploaded before June 2025.
RELEASE = {"type": "object", "required": ["id", "tag_name", "draft", "upload_url"], "properties": {
    "id": {"type": "integer"}, "tag_name": _TEXT, "draft": {"type": "boolean"},
    "upload_url": _TEXT, "html_url": {"anyOf": [_TEXT, {"type": "null"}]}}}
ASSET = {"type": "object", "required": ["id", "name", "state", "size", "url"], "properties": {
    "id": {"type": "integer"}, "name": _TEXT | {"minLength": 1}, "state": _TEXT,
    "size": {"type": "integer", "minimum": 0}, "url": _TEXT, "digest": {"anyOf": [_TEXT, {"type": "null"}]}}}


def page_of(shape: dict) -> dict:
    return {"type": "array", "items": shape}


def _problem(error: jsonschema.ValidationError) -> str:
    """Where and what, from the schema's words only: never a value GitHub sent."""
    where = "/".join(map(str, error.absolute_path)) or "the top level"
    if error.validator == "required":
        return f"{where}: {error.message}"  # "'tag_name' is a required property"
    if error.validator == "pattern":
        return f"{where}: holds control characters"
    if error.validator == "anyOf":
        return f"{where}: expected text or null"
    return f"{where}: expected {error.validator} {error.validator_value}"


def _keep(data: object, shape: dict) -> object:
    if shape.get("type") == "array":
        return [_keep(item, shape["items"]) for item in data]
    if shape.get("type") == "object":
        return {key: _keep(data[key], sub) for key, sub in shape["properties"].items() if key in data}
    return redact(data) if isinstance(data, str) else data


def parse(body: bytes, shape: dict) -> object:
    """The answer's fields of `shape`; ValueError saying what is wrong (one line, no value sent) if it has another shape."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # also bad UTF-8 and integers of over 4300 digits
        raise ValueError("the answer is not JSON") from None
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(shape).iter_errors(data))
    if error is not None:
        raise ValueError(f"unexpected answer at {_problem(error)}")
    return _keep(data, shape)


def error_body(body: bytes) -> tuple[str, tuple[str, ...]]:
    """GitHub's error message and the `code` of each entry in `errors`, if the body is JSON."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return "", ()
    if not isinstance(data, dict):
        return "", ()
    errors = data.get("errors") if isinstance(data.get("errors"), list) else []
    codes = tuple(str(e.get("code")) for e in errors if isinstance(e, dict))
    return " ".join(str(data.get("message", "")).split())[:300], codes
