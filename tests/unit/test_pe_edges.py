"""PE files past pefile's defaults, cut files, and apps with a private runtime copy (mingw-built)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ci.binaries import read_binary
from ci.checks.verify import NO_SYMBOLS, verify
from ci.core.errors import InputError
from tests.pe_view import objdump_view

CC = "x86_64-w64-mingw32-gcc"
ALIASES = 9000  # past pefile's default of 8192 exports and of 120 names for one address
LONG_NAME = "L" * 600  # past pefile's default of 512 bytes per name

RUNTIME_C = """
__declspec(dllexport) int RhGetRuntimeVersion(void) { return 1; }
__declspec(dllexport) int RhpNewFast(void) { return 2; }
"""
APP_C = """
__declspec(dllimport) int RhGetRuntimeVersion(void);
int main(void) { return RhGetRuntimeVersion(); }
"""
# Imports the runtime, yet carries its own RhpNewFast: the private copy verify must catch.
PRIVATE_APP_C = """
__declspec(dllimport) int RhGetRuntimeVersion(void);
int RhpNewFast(void) { return 5; }
int main(void) { return RhGetRuntimeVersion() + RhpNewFast(); }
"""


def _run(*cmd: str | Path, cwd: Path) -> None:
    assert shutil.which(str(cmd[0])), f"{cmd[0]} not found: install gcc-mingw-w64-x86-64"
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stderr}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pe-edges")
    (out / "many.c").write_text("int target(void) { return 3; }\n")
    aliases = "".join(f"    alias_{i:05d} = target\n" for i in range(ALIASES))
    (out / "many.def").write_text(f"LIBRARY many.dll\nEXPORTS\n    target\n    {LONG_NAME} = target\n{aliases}")
    for name, text in {"rt.c": RUNTIME_C, "app.c": APP_C, "private.c": PRIVATE_APP_C}.items():
        (out / name).write_text(text)
    _run(CC, "-shared", "-o", "many.dll", "many.c", "many.def", cwd=out)
    _run(CC, "-shared", "-o", "Runtime.Base.dll", "rt.c", "-Wl,--out-implib,libRuntime.Base.a", cwd=out)
    _run(CC, "-o", "app.exe", "app.c", "-L.", "-lRuntime.Base", cwd=out)
    _run(CC, "-o", "private.exe", "private.c", "-L.", "-lRuntime.Base", cwd=out)
    _run(CC, "-s", "-o", "private-stripped.exe", "private.c", "-L.", "-lRuntime.Base", cwd=out)
    return {path.name: path for path in out.iterdir()}


def test_every_export_name_past_pefile_defaults(built: dict[str, Path]) -> None:
    dll = read_binary(built["many.dll"])
    names = dll.export_names
    assert len(dll.exports) == ALIASES + 2 and not any(n.startswith("#") for n in names)
    assert LONG_NAME in names and "alias_08999" in names
    assert {(s.name, s.ordinal, s.forwarder) for s in dll.exports} == objdump_view(built["many.dll"]).exports


@pytest.mark.parametrize("cut", [1, 2, 17, 100, 511, 512])
def test_a_file_cut_at_its_end_is_refused(built: dict[str, Path], tmp_path: Path, cut: int) -> None:
    """mingw images end in the COFF string table; lld-link ones in section data: both are checked."""
    for name in ("Runtime.Base.dll", "private-stripped.exe"):
        path = tmp_path / name
        path.write_bytes(built[name].read_bytes()[:-cut])
        with pytest.raises(InputError) as caught:
            read_binary(path)
        assert caught.value.problem.startswith("truncated PE: ") and "\n" not in str(caught.value), name


def test_private_copy_in_a_pe_app_is_reported(built: dict[str, Path]) -> None:
    result = verify(built["Runtime.Base.dll"], [built["app.exe"], built["private.exe"]])
    assert not result["ok"] and result["notes"] == []
    assert [(v["app"], v["symbol"]) for v in result["violations"]] == [(str(built["private.exe"]), "RhpNewFast")]
    assert "private copy" in result["violations"][0]["problem"]
    # The import thunk the linker writes for RhGetRuntimeVersion is no copy.
    assert "RhGetRuntimeVersion" not in read_binary(built["app.exe"]).defined


def test_an_app_without_symbols_is_said_to_be_unchecked(built: dict[str, Path]) -> None:
    result = verify(built["Runtime.Base.dll"], [built["private-stripped.exe"]])
    assert result["ok"]  # nothing to see: but the report says so instead of passing silently
    assert result["apps"][0]["private_copies"] == NO_SYMBOLS
    assert result["notes"] == [f"{built['private-stripped.exe']}: {NO_SYMBOLS}"]
