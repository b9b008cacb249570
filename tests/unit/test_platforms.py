"""The platform list and how each platform's binaries run on a given host."""

from __future__ import annotations

import pytest

from ci.platforms import records
from ci.core.errors import CiError
from ci.platforms import PLATFORMS, get_platform, select
from ci.platforms.runners import Runner


def test_one_list_of_platforms():
    assert list(PLATFORMS)[:2] == ["linux-x64", "linux-arm64"]
    assert {p.runner for p in PLATFORMS.values()} >= {"ubuntu-24.04", "ubuntu-24.04-arm"}


@pytest.mark.parametrize("host, rid, mode", [
    ("linux-x64", "linux-x64", "native"),
    ("linux-x64", "linux-arm64", "qemu-user"),
    ("linux-arm64", "linux-arm64", "native"),
    ("linux-arm64", "linux-x64", "qemu-user"),
])
def test_run_mode_depends_on_the_host(monkeypatch, host, rid, mode):
    monkeypatch.setattr(records, "host_rid", lambda: host)
    assert get_platform(rid).run_mode == mode


def test_select_all_and_unknown():
    assert select(["all"]) == list(PLATFORMS.values())
    assert [p.rid for p in select(["linux-arm64", "linux-arm64"])] == ["linux-arm64"]
    with pytest.raises(CiError, match="unknown platform 'mac-x64'"):
        select(["mac-x64"])


def test_wine_paths_map_back_to_the_host():
    runner = Runner(get_platform("linux-x64"))
    runner.mode = "wine"
    assert runner.host_path("Z:\\work\\apps\\runtime\\bin\\Runtime.Base.dll") == "/work/apps/runtime/bin/Runtime.Base.dll"
    assert runner.host_path("C:\\windows\\system32\\kernel32.dll") == "C:\\windows\\system32\\kernel32.dll"
    runner.mode = "native"
    assert runner.host_path("Z:\\x") == "Z:\\x"
