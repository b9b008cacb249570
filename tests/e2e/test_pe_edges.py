"""PE files past pefile's defaults, cut files, and apps with a private runtime copy (mingw, lld-link)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ci.binaries import read_binary
from ci.binaries.pdb import public_names
from ci.checks.verify import NO_SYMBOLS, verify
from ci.core.errors import InputError
from tests.binaries_helpers import run_tool
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


# lld-link builds: freestanding, so no Windows SDK is needed; symbols only in the PDB.
LLD_RUNTIME_C = RUNTIME_C + "int _DllMainCRTStartup(void *a, unsigned b, void *c) { return 1; }\n"
LLD_APP_C = PRIVATE_APP_C.replace("int main(void)", "int mainCRTStartup(void)")




@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pe-edges")
    (out / "many.c").write_text("int target(void) { return 3; }\n")
    aliases = "".join(f"    alias_{i:05d} = target\n" for i in range(ALIASES))
    (out / "many.def").write_text(f"LIBRARY many.dll\nEXPORTS\n    target\n    {LONG_NAME} = target\n{aliases}")
    for name, text in {"rt.c": RUNTIME_C, "app.c": APP_C, "private.c": PRIVATE_APP_C}.items():
        (out / name).write_text(text)
    run_tool(CC, "-shared", "-o", "many.dll", "many.c", "many.def", cwd=out)
    run_tool(CC, "-shared", "-o", "Runtime.Base.dll", "rt.c", "-Wl,--out-implib,libRuntime.Base.a", cwd=out)
    run_tool(CC, "-o", "app.exe", "app.c", "-L.", "-lRuntime.Base", cwd=out)
    run_tool(CC, "-o", "private.exe", "private.c", "-L.", "-lRuntime.Base", cwd=out)
    run_tool(CC, "-s", "-o", "private-stripped.exe", "private.c", "-L.", "-lRuntime.Base", cwd=out)
    return {path.name: path for path in out.iterdir()}


@pytest.fixture(scope="module")
def lld(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """lld-link DLL and app with PDBs beside them (as the win-arm64 toolchain writes them)."""
    out = tmp_path_factory.mktemp("pe-lld")
    (out / "rt.c").write_text(LLD_RUNTIME_C)
    (out / "app.c").write_text(LLD_APP_C)
    for name in ("rt", "app"):
        run_tool("clang", "--target=x86_64-pc-windows-msvc", "-c", "-o", f"{name}.obj", f"{name}.c", cwd=out)
    run_tool("lld-link", "/dll", "/out:Runtime.Base.dll", "/implib:Runtime.Base.lib", "/nodefaultlib", "/noentry",
         "/debug", "/pdb:Runtime.Base.pdb", "rt.obj", cwd=out)
    run_tool("lld-link", "/out:app.exe", "/subsystem:console", "/nodefaultlib", "/debug", "/pdb:app.pdb",
         "/pdbaltpath:%_PDB%", "app.obj", "Runtime.Base.lib", cwd=out)
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


def _pdbutil_publics(pdb: Path) -> set[str]:
    text = run_tool("llvm-pdbutil", "dump", "--publics", pdb, cwd=pdb.parent)
    return {line.split("`")[1] for line in text.splitlines() if "S_PUB32" in line}


def test_pdb_publics_agree_with_llvm_pdbutil(lld: dict[str, Path]) -> None:
    for name in ("app", "Runtime.Base"):
        binary = read_binary(lld[f"{name}.{'exe' if name == 'app' else 'dll'}"])
        assert public_names(lld[f"{name}.pdb"], binary.build_id) == _pdbutil_publics(lld[f"{name}.pdb"])


def test_private_copy_in_an_lld_link_app_is_found_through_its_pdb(lld: dict[str, Path]) -> None:
    app = read_binary(lld["app.exe"])
    assert app.symbol_tables == ("exports", "PDB publics")
    assert "RhpNewFast" in app.defined and "RhGetRuntimeVersion" not in app.defined  # the latter: a thunk
    result = verify(lld["Runtime.Base.dll"], [lld["app.exe"]])
    assert [(v["symbol"], "private copy" in v["problem"]) for v in result["violations"]] == [("RhpNewFast", True)]


def test_without_its_pdb_the_lld_link_app_is_unchecked(lld: dict[str, Path], tmp_path: Path) -> None:
    alone = tmp_path / "app.exe"
    shutil.copy(lld["app.exe"], alone)
    result = verify(lld["Runtime.Base.dll"], [alone])
    assert result["ok"] and result["apps"][0]["private_copies"] == NO_SYMBOLS


def test_a_stale_or_damaged_pdb_is_one_line(lld: dict[str, Path], tmp_path: Path) -> None:
    shutil.copy(lld["app.exe"], tmp_path / "app.exe")
    shutil.copy(lld["Runtime.Base.pdb"], tmp_path / "app.pdb")  # another build's PDB
    with pytest.raises(InputError, match="a stale PDB"):
        read_binary(tmp_path / "app.exe")
    pdb = bytearray(lld["app.pdb"].read_bytes())
    pdb[32:36] = (3000).to_bytes(4, "little")  # block size
    (tmp_path / "app.pdb").write_bytes(pdb)
    with pytest.raises(InputError, match="corrupt PDB: block size 3000"):
        read_binary(tmp_path / "app.exe")
    (tmp_path / "app.pdb").write_bytes(lld["app.pdb"].read_bytes()[:20000])
    with pytest.raises(InputError, match=r"corrupt PDB: .* extend past end of file"):
        read_binary(tmp_path / "app.exe")


def test_a_recorded_pdb_name_too_long_for_the_file_system_is_no_pdb(lld: dict[str, Path], tmp_path: Path) -> None:
    run_tool("lld-link", "/out:long.exe", "/subsystem:console", "/nodefaultlib", "/debug", "/pdb:long.pdb",
             f"/pdbaltpath:{'p' * 300}.pdb", lld["app.obj"], lld["Runtime.Base.lib"], cwd=tmp_path)
    (tmp_path / "long.pdb").unlink()
    assert read_binary(tmp_path / "long.exe").symbol_tables == ("exports",)


def test_a_pdb_put_beside_later_is_read(lld: dict[str, Path], tmp_path: Path) -> None:
    shutil.copy(lld["app.exe"], tmp_path / "app.exe")
    assert read_binary(tmp_path / "app.exe").symbol_tables == ("exports",)
    shutil.copy(lld["app.pdb"], tmp_path / "app.pdb")
    assert read_binary(tmp_path / "app.exe").symbol_tables == ("exports", "PDB publics")
