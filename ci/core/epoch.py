"""SOURCE_DATE_EPOCH: from the environment, else the last commit time of the runtime source."""

from __future__ import annotations

import os

from ci.core.errors import CiError


def source_date_epoch(default: int | None, where: str) -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value is None:
        if default is None:
            raise CiError(f"{where}: runtime source is not in git; set SOURCE_DATE_EPOCH")
        return default
    if not (value.isascii() and value.isdigit()):
        raise CiError(f"SOURCE_DATE_EPOCH={value!r}: must be a non-negative integer")
    return int(value)
