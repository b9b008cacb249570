"""The GitHub Actions matrix, computed from the platform records (never copied into YAML)."""

from __future__ import annotations

from ci.platforms import PLATFORMS


def matrix() -> dict:
    """One entry per platform: where its package is built (a runner, and the Linux container it is
    built in, if any) and the runners its apps are tested on natively."""
    return {"include": [{
        "rid": p.rid,
        "os": p.os,
        "arch": p.arch,
        "build_runner": p.build_runner,
        "container": p.build_container or "",  # "": on the build runner's host
        "target": p.build_target,
        "test_runners": list(p.test_runners),  # the first is its native runner; later ones an older OS
        "windows_container": p.windows_container,  # nox also runs in the Windows container on `runner`
        "runner": p.runner,
    } for p in PLATFORMS.values()]}
