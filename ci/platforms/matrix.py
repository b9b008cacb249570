"""The GitHub Actions matrix, computed from the platform list (never copied into YAML)."""

from __future__ import annotations

from ci.platforms import PLATFORMS

WINDOWS_BUILD_RUNNER = "windows-2025"


def matrix() -> dict:
    """One entry per platform: where its package is built, and where its apps run natively."""
    include = []
    for p in PLATFORMS.values():
        linux = p.os == "linux"
        include.append({
            "rid": p.rid,
            "os": p.os,
            "arch": p.arch,
            # Linux builds run inside the platform's container on a runner of its own arch.
            "build_runner": p.runner if linux else WINDOWS_BUILD_RUNNER,
            "container": linux,
            "test_runner": p.runner,
        })
    return {"include": include}
