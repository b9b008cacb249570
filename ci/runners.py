"""How a target binary runs on this machine (native now; emulators join through the platform)."""

from __future__ import annotations

from pathlib import Path

from .errors import CiError
from .platforms import Platform


def command(platform: Platform, exe: Path, *args: str) -> list[str]:
    if platform.run_here == "native":
        return [str(exe), *args]
    raise CiError(f"{platform.rid}: binaries cannot run on this machine (run mode {platform.run_here})")
