"""Secrets never printed: a secret is registered once with `hide`; every message, log line and report
passes through `redact`, the one helper that removes them (as GitHub Actions' `::add-mask::` does)."""

from __future__ import annotations

import json
from urllib.parse import quote

MASK = "***"
_HIDDEN: set[str] = set()


def hide(secret: str) -> None:
    """From now on `redact` replaces `secret`, and the forms a server may echo it in (URL-encoded,
    JSON-escaped), with ***."""
    if secret:
        _HIDDEN.update({secret, quote(secret, safe=""), json.dumps(secret)[1:-1]})


def redact(text: str) -> str:
    for secret in sorted(_HIDDEN, key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(secret, MASK)
    return text

