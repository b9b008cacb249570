"""A UCRT MinGW (the windows-2025 image's) links apps against api-ms-win-crt-*.dll, the UCRT's API
sets, where Debian's mingw-w64 names msvcrt.dll: both are within the Windows floor, nothing else is."""

from __future__ import annotations

from ci.platforms import PLATFORMS
from ci.redist.floors import problems


def needing(*dlls: str) -> dict:
    return {"glibc": None, "dlls": {dll: ["f"] for dll in dlls}}


def test_ucrt_api_sets_count_as_ucrtbase():
    ucrt_app = needing("kernel32.dll", "api-ms-win-crt-runtime-l1-1-0.dll", "api-ms-win-crt-stdio-l1-1-0.dll",
                       "api-ms-win-crt-heap-l1-1-0.dll", "runtime.base.dll")
    assert problems(PLATFORMS["win-x64"], ucrt_app, own=["Runtime.Base.dll"]) == []


def test_other_api_sets_and_dlls_stay_outside_the_floor():
    found = problems(PLATFORMS["win-x64"], needing("api-ms-win-core-synch-l1-2-0.dll", "libwinpthread-1.dll"))
    assert [line.split(",")[0] for line in found] == [
        "imports api-ms-win-core-synch-l1-2-0.dll", "imports libwinpthread-1.dll"]
