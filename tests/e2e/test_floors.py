"""Platform floors: what the runtime and the apps need of their target, recorded in the manifest and
checked against each platform's declared floor."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ci.platforms import get_platform
from tests.conftest import assert_one_line_error, run_ci
from tests.e2e.helpers import gcc

RIDS = ("linux-x64", "linux-arm64", "win-x64", "win-arm64")


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> dict[str, Path]:
    """Every platform's runtime built and packaged: rid -> build output dir; dist beside them."""
    root = tmp_path_factory.mktemp("floors")
    for rid in RIDS:
        for args in (["build", "--platform", rid, "--out", root / rid], ["package", "--build", root / rid, "--dist", root / "dist"]):
            done = run_ci(*args)
            assert done.returncode == 0, done.stdout + done.stderr
    return {"root": root, "dist": root / "dist"}


def _manifest(packaged, rid: str) -> dict:
    (path,) = packaged["dist"].glob(f"runtime-base-*-{rid}.manifest.json")
    return json.loads(path.read_text())


@pytest.mark.parametrize("rid", ["linux-x64", "linux-arm64"])
def test_linux_manifest_records_the_highest_glibc_version_readelf_shows(packaged, rid):
    manifest = _manifest(packaged, rid)
    needs = subprocess.run(["readelf", "-V", "-W", packaged["root"] / rid / manifest["library"]],
                           capture_output=True, text=True, check=True).stdout.split("Version needs section", 1)[1]
    versions = {tuple(map(int, v.split("."))) for v in re.findall(r"Name: GLIBC_([0-9.]+)", needs)}
    assert manifest["floor"]["glibc"] == ".".join(map(str, max(versions)))
    assert manifest["floor"]["declared"] == {"glibc": "2.36", "dlls": []} and manifest["floor"]["dlls"] == {}


@pytest.mark.parametrize("rid", ["win-x64", "win-arm64"])
def test_windows_manifest_records_the_dlls_and_apis_llvm_readobj_shows(packaged, rid):
    manifest = _manifest(packaged, rid)
    dll = packaged["root"] / rid / "lib" / "Runtime.Base.dll"
    listing = subprocess.run(["llvm-readobj", "--coff-imports", dll], capture_output=True, text=True, check=True).stdout
    imports: dict[str, set[str]] = {}
    for block in listing.split("Import {")[1:]:
        name = re.search(r"Name: (\S+)", block)[1].lower()
        imports[name] = set(re.findall(r"Symbol: (\S+)", block))
    assert {dll: set(apis) for dll, apis in manifest["floor"]["dlls"].items()} == imports
    assert manifest["floor"]["glibc"] is None
    assert set(imports) <= set(manifest["floor"]["declared"]["dlls"]) == set(get_platform(rid).floor.dlls)


def _fake_glibc(dest: Path) -> Path:
    """libfake.so defining fake_new_api in version GLIBC_2.99: linking against it records that need."""
    dest.mkdir()
    (dest / "fake.map").write_text("GLIBC_2.99 { global: fake_new_api; local: *; };\n")
    (dest / "fake.c").write_text("int fake_new_api(void) { return 7; }\n")
    gcc("-shared", "-fPIC", "-o", "libfake.so", "-Wl,-soname,libfake.so", "-Wl,--version-script=fake.map", "fake.c",
        cwd=dest)
    return dest


def test_an_app_that_needs_a_newer_glibc_fails_verify(packaged, tmp_path):
    fake = _fake_glibc(tmp_path / "fake")
    runtime = packaged["root"] / "linux-x64"
    (tmp_path / "app.c").write_text('#include "RuntimeBase.h"\nint fake_new_api(void);\n'
                                    "int main(void) { return InitializeRuntimeBase() ? 1 : fake_new_api(); }\n")
    gcc("-o", "app", "app.c", f"-I{runtime / 'include'}", runtime / "lib/libRuntime.Base.so", f"-L{fake}", "-lfake",
        cwd=tmp_path)
    (library,) = runtime.glob("lib/libRuntime.Base.so.*.*.*[0-9]")
    done = run_ci("verify", "--runtime", library, "--app", tmp_path / "app", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert [v["problem"] for v in result["violations"]] == ["needs glibc 2.99, above linux-x64's floor 2.36"]
    assert result["apps"][0]["glibc"] == result["floor"]["glibc"] == "2.99"  # recorded in the report too
    assert result["floor"]["declared"] == {"glibc": "2.36", "dlls": []}


def test_a_runtime_that_needs_a_newer_glibc_is_not_packaged(packaged, tmp_path):
    fake = _fake_glibc(tmp_path / "fake")
    build = tmp_path / "build"
    shutil.copytree(packaged["root"] / "linux-x64", build, symlinks=True)
    (library,) = build.glob("lib/libRuntime.Base.so.*.*.*[0-9]")
    (tmp_path / "rt.c").write_text("int fake_new_api(void);\n"
                                   "__attribute__((visibility(\"default\"))) int InitializeRuntimeBase(void) "
                                   "{ return fake_new_api(); }\n")
    library.unlink()
    gcc("-shared", "-fPIC", "-o", library, "rt.c", f"-Wl,-soname,{library.name}", f"-L{fake}", "-lfake", cwd=tmp_path)
    done = run_ci("package", "--build", build, "--dist", tmp_path / "dist")
    assert_one_line_error(done, f"{library.relative_to(build)}: needs glibc 2.99, above linux-x64's floor 2.36", code=1)
    assert not list((tmp_path / "dist").glob("*.tar.gz"))


def test_an_app_that_imports_a_dll_beyond_the_floor_fails_verify(packaged, tmp_path):
    runtime = packaged["root"] / "win-x64"
    (tmp_path / "app.c").write_text('#include <d3d11.h>\n#include "RuntimeBase.h"\n'
                                    "int main(void) { D3D11CreateDevice(0, 0, 0, 0, 0, 0, 7, 0, 0, 0); "
                                    "return InitializeRuntimeBase() ? 1 : 0; }\n")
    done = subprocess.run(["x86_64-w64-mingw32-gcc", "-o", "app.exe", "app.c", f"-I{runtime / 'include'}",
                           runtime / "lib/Runtime.Base.lib", "-ld3d11"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = run_ci("verify", "--runtime", runtime / "lib/Runtime.Base.dll", "--app", tmp_path / "app.exe", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    problems = [v["problem"] for v in json.loads(done.stdout)["violations"]]
    assert problems == ["imports d3d11.dll, not among win-x64's allowed DLLs (advapi32.dll, bcrypt.dll, "
                        "crypt32.dll, iphlpapi.dll, kernel32.dll, mswsock.dll, ncrypt.dll, normaliz.dll, ntdll.dll, "
                        "ole32.dll, oleaut32.dll, secur32.dll, user32.dll, version.dll, ws2_32.dll, ucrtbase.dll, "
                        "msvcrt.dll)"]
