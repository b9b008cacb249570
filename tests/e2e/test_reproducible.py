"""Two builds from different clone paths, caches, umasks, time zones, locales and file orders: the
same package bytes, and the same bytes for every app and plugin linked against it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci.platforms import get_platform
from tests.e2e.helpers import clone_tree


def _package_and_link(clone: Path, rid: str, umask: str, tz: str, locale: str) -> tuple[Path, Path]:
    """dist/ and the app set's bin/ of one clone, made with its own cache (support libraries too)."""
    env = {**os.environ, "TZ": tz, "LC_ALL": locale, "LANG": locale, "XDG_CACHE_HOME": str(clone / ".cache")}
    env.pop("SOURCE_DATE_EPOCH", None)  # the default: last commit time of the runtime source
    ci = f"{sys.executable} -m ci"
    script = (f"umask {umask} && {ci} build --platform {rid} --out build/rt && "
              f"{ci} package --build build/rt --dist dist && "
              f"{ci} apps --platform {rid} --package dist/runtime-base-*-{rid}.[tz]* --out build/apps")
    done = subprocess.run(["sh", "-c", script], cwd=clone, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return clone / "dist", clone / "build" / "apps" / "bin"


def _contents(top: Path) -> dict[str, bytes]:
    return {p.relative_to(top).as_posix(): p.read_bytes() for p in sorted(top.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


@pytest.mark.parametrize("rid", ["linux-x64", "linux-arm64", "win-x64", "win-arm64"])
def test_two_clones_give_identical_packages_apps_and_plugins(tmp_path, rid):
    dist_1, bin_1 = _package_and_link(clone_tree(tmp_path / "a", reverse=False), rid, "022", "UTC", "C.UTF-8")
    dist_2, bin_2 = _package_and_link(clone_tree(tmp_path / "elsewhere" / "deeper" / "b", reverse=True), rid,
                                      "002", "Pacific/Chatham", "C")
    one, two = _contents(dist_1), _contents(dist_2)
    # archive, symbols, manifest copy, SBOM, runtime pack (.nupkg), SHA256SUMS
    assert sorted(one) == sorted(two) and len(one) == 6 and any(name.endswith(".nupkg") for name in one)
    assert [name for name in one if one[name] != two[name]] == []
    apps_1, apps_2 = _contents(bin_1), _contents(bin_2)
    suffix = get_platform(rid).exe_suffix
    assert {f"hello{suffix}", f"plugin_host{suffix}", f"plugins/{get_platform(rid).plugin_name('plugin_a')}"} <= set(apps_1)
    assert sorted(apps_1) == sorted(apps_2)
    assert [name for name in apps_1 if apps_1[name] != apps_2[name]] == []
