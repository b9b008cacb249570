"""The NativeAOT marker rule: managed code alone is not a runtime; one string alone is nothing."""

from __future__ import annotations

import struct
from pathlib import Path

from ci.binaries import read_binary
from ci.binaries.nativeaot import DOTNET_WIDE, GC_CONFIG_NAMES, markers

LIBZ = Path("/usr/lib/x86_64-linux-gnu/libz.so.1")


def _with(tmp_path: Path, *extra: bytes) -> Path:
    path = tmp_path / "lib.so"
    path.write_bytes(LIBZ.read_bytes() + b"".join(extra))
    return path


def _header(major: int, sections: int = 34, entry_size: int = 24) -> bytes:
    return struct.pack("<4sHHIHBB", b"RTR\0", major, 0, 0, sections, entry_size, 1)


def test_a_plain_c_library_has_no_markers():
    found = markers(read_binary(LIBZ))
    assert found.markers == () and not found.embeds_runtime and found.describe() == "no ReadyToRun header"


def test_managed_code_without_the_runtime_is_not_an_embedded_runtime(tmp_path):
    found = markers(read_binary(_with(tmp_path, _header(16))))
    assert found.has_managed_code and not found.embeds_runtime and found.release == ".NET 10"


def test_runtime_strings_without_managed_code_are_not_flagged(tmp_path):
    found = markers(read_binary(_with(tmp_path, *GC_CONFIG_NAMES, DOTNET_WIDE)))
    assert not found.embeds_runtime and "GC configuration names" in found.markers


def test_the_two_groups_together_are_an_embedded_runtime_with_its_release(tmp_path):
    found = markers(read_binary(_with(tmp_path, _header(9), *GC_CONFIG_NAMES, DOTNET_WIDE)))
    assert found.embeds_runtime and found.describe() == ".NET 8, ReadyToRun 9.x"
    unknown = markers(read_binary(_with(tmp_path, _header(26), *GC_CONFIG_NAMES, DOTNET_WIDE)))
    assert unknown.embeds_runtime and unknown.describe() == "unknown .NET release, ReadyToRun 26.x"


def test_a_signature_without_a_plausible_header_is_ignored(tmp_path):
    assert markers(read_binary(_with(tmp_path, _header(16, sections=0), _header(16, entry_size=7)))).readytorun is None
