"""Seeded random damage to a real binary: the readers must give a model or one InputError line."""

from __future__ import annotations

import os
import random
from pathlib import Path

from ci.binaries import read_binary
from ci.core.errors import InputError


def assert_damage_is_contained(source: Path, target: Path, seed: int, attempts: int, keep: int, header: int) -> None:
    """Damage `source` at random offsets (past its `keep` magic bytes; every other try only
    within the first `header` bytes) and read each result."""
    data = source.read_bytes()
    rng = random.Random(seed)
    for attempt in range(attempts):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            damaged[rng.randrange(keep, len(data) if attempt % 2 else header)] = rng.randrange(256)
        target.write_bytes(damaged)
        os.utime(target, ns=(attempt, attempt))  # a new cache key for read_binary each time
        try:
            read_binary(target)
        except InputError as error:
            assert "\n" not in str(error)
