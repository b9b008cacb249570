"""The platform list and how each platform's binaries run on a given host."""

from __future__ import annotations

import pytest

from ci.platforms import records
from ci.core.errors import CiError
from ci.platforms import PLATFORMS, get_platform, select
from ci.platforms.runners import Runner
from ci.containers.images import TARGETS
from tests.conftest import REPO


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


def test_every_platform_is_built_where_it_can_be_and_tested_on_its_native_runner():
    where = {rid: (p.build_runner, p.build_container, p.test_runners) for rid, p in PLATFORMS.items()}
    assert where == {
        "linux-x64": ("ubuntu-24.04", "linux-x64", ("ubuntu-24.04",)),
        "linux-arm64": ("ubuntu-24.04-arm", "linux-arm64", ("ubuntu-24.04-arm",)),
        # cross-built in the windows-cross container, tested natively (and on the oldest hosted Windows)
        "win-x64": ("ubuntu-24.04", "linux-x64", ("windows-2025", "windows-2022")),
        "win-arm64": ("ubuntu-24.04", "linux-x64", ("windows-11-arm",)),
    }


def test_a_build_container_is_a_linux_image_with_its_dockerfile_target():
    dockerfile = (REPO / "containers" / "linux" / "Dockerfile").read_text()
    for p in PLATFORMS.values():
        if p.build_container:
            assert get_platform(p.build_container).os == "linux", p.rid
            assert p.build_target in TARGETS and f" AS {p.build_target}\n" in dockerfile, p.rid


@pytest.mark.parametrize("machine, ours", [("x86_64", "x64"), ("AMD64", "x64"), ("aarch64", "arm64"), ("arm64", "arm64"),
                                           ("riscv64", "riscv64")])
def test_the_host_architecture_by_our_name(monkeypatch, machine, ours):
    import platform as host

    from ci.platforms.arch import host_arch

    monkeypatch.setattr(host, "machine", lambda: machine)
    assert host_arch() == ours


def test_every_platform_architecture_has_every_tools_name():
    from ci.core.errors import BadInput
    from ci.platforms.arch import arch

    for platform in PLATFORMS.values():
        names = arch(platform.arch)
        assert names.gnu and names.debian and names.docker.startswith("linux/") and names.qemu.startswith("qemu-")
    with pytest.raises(BadInput, match="unknown architecture 'mips'"):
        arch("mips")
