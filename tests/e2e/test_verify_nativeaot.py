"""verify on real NativeAOT binaries (the SDK's, see conftest.py) and on real plain C and PE libraries.

Positive cases: every NativeAOT file built here is reported as embedding a private runtime with the
.NET release of the ILCompiler that made it. Negative cases: the reference runtime's C app, the
system's C libraries and wine's PE DLLs are never flagged. The Mach-O file is synthetic (a bare
64-bit header, made here): nothing on this machine produces one.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_ci
from tests.e2e.helpers import APPS_SRC, RUNTIME_SRC

pytestmark = pytest.mark.e2e

WINE_DLLS = Path("/usr/lib/x86_64-linux-gnu/wine/x86_64-windows")
C_LIBRARIES = [Path("/usr/lib/x86_64-linux-gnu/libz.so.1"), Path("/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
               Path("/lib/x86_64-linux-gnu/libc.so.6")]


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory) -> dict[str, Path]:
    """The reference Runtime.Base built for linux-x64 and win-x64: rid -> its library."""
    root = tmp_path_factory.mktemp("runtimes")
    found = {}
    for rid, pattern in (("linux-x64", "lib/libRuntime.Base.so.*.*.*[0-9]"), ("win-x64", "lib/Runtime.Base.dll")):
        done = run_ci("build", "--platform", rid, "--out", root / rid)
        assert done.returncode == 0, done.stdout + done.stderr
        (found[rid],) = (root / rid).glob(pattern)
    return found


def _verify(runtime: Path, *apps: Path) -> tuple[int, dict, str]:
    done = run_ci("verify", "--runtime", runtime, *[a for app in apps for a in ("--app", app)], "--json")
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def _embedded(result: dict, app: Path) -> list[str]:
    return [v["problem"] for v in result["violations"]
            if v["app"] == str(app) and v["problem"].startswith("embeds a private NativeAOT runtime")]


def test_every_nativeaot_binary_built_here_is_flagged_with_its_release(nativeaot_binaries, runtimes):
    code, result, _ = _verify(runtimes["linux-x64"], *(b.path for b in nativeaot_binaries))
    assert code == 1
    releases = {}
    for binary, record in zip(nativeaot_binaries, result["apps"], strict=True):
        problems = _embedded(result, binary.path)
        assert len(problems) == 1, (binary.name, result["violations"])
        assert problems[0].startswith(f"embeds a private NativeAOT runtime ({binary.release}, ReadyToRun "), problems
        assert record["nativeaot"]["embeds_runtime"] and record["nativeaot"]["release"] == binary.release
        # Seen from the markers, so the report never also says the copies could not be checked.
        assert record["private_copies"].startswith("embedded runtime seen from its markers"), record
        releases[binary.release] = record["nativeaot"]["readytorun"].split(".")[0]
    assert releases == {".NET 8": "9", ".NET 9": "10", ".NET 10": "16"}
    assert not any("private copies not checkable" in n for n in result["notes"])
    # The reference runtime is C: it exports the debug header (the export list has it), but has no
    # ReadyToRun header or GC, so one marker alone flags nothing and there is no release to compare.
    assert result["runtime_nativeaot"] == {"release": None, "readytorun": None, "embeds_runtime": False,
                                           "markers": ["export DotNetRuntimeDebugHeader"]}


def test_sections_survive_strip_and_hydrated_is_named_by_release(nativeaot_binaries, runtimes):
    _, result, _ = _verify(runtimes["linux-x64"], *(b.path for b in nativeaot_binaries))
    for binary, record in zip(nativeaot_binaries, result["apps"], strict=True):
        markers = set(record["nativeaot"]["markers"])
        hydrated = "section hydrated" if binary.release == ".NET 8" else "section .hydrated"
        assert {"section __managedcode", "section __unbox", "section __modules", "section .dotnet_eh_table",
                hydrated, "GC configuration names", "UTF-16 DOTNET_",
                "export DotNetRuntimeDebugHeader"} <= markers, (binary.name, markers)
        if binary.name.endswith("stripped"):
            assert record["symbols"] == ".dynsym"


def test_plain_c_libraries_and_the_reference_c_app_are_never_flagged(runtimes, tmp_path):
    library = runtimes["linux-x64"]
    app = tmp_path / "hello"
    done = subprocess.run(["gcc", "-o", app, APPS_SRC / "hello.c", f"-I{RUNTIME_SRC / 'include'}",
                           f"-L{library.parent}", "-lRuntime.Base", f"-Wl,-rpath,{library.parent}"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    code, result, _ = _verify(library, app, *C_LIBRARIES)
    assert not any(_embedded(result, path) for path in (app, *C_LIBRARIES))
    assert all(not a["nativeaot"]["embeds_runtime"] and a["nativeaot"]["markers"] == [] for a in result["apps"])
    assert [v for v in result["violations"] if v["app"] == str(app)] == []
    assert code == 1  # the system libraries do not need Runtime.Base: named, but nothing embedded


def test_wine_pe_dlls_are_never_flagged(runtimes):
    dlls = [WINE_DLLS / name for name in ("kernelbase.dll", "advapi32.dll", "ws2_32.dll", "ole32.dll", "ucrtbase.dll")]
    _, result, _ = _verify(runtimes["win-x64"], *dlls)
    assert len(result["apps"]) == len(dlls)
    assert not any(_embedded(result, dll) for dll in dlls)
    assert all(not a["nativeaot"]["embeds_runtime"] for a in result["apps"])


def _macho(path: Path) -> Path:
    # mach_header_64: MH_MAGIC_64, CPU_TYPE_X86_64, CPU_SUBTYPE_X86_64_ALL, MH_EXECUTE, no load commands.
    path.write_bytes(struct.pack("<IiiIIIII", 0xFEEDFACF, 0x01000007, 3, 2, 0, 0, 0, 0))
    return path


def test_a_mixed_directory_gives_one_verdict_per_file(nativeaot_binaries, runtimes, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _macho(mixed / "b-synthetic.macho")
    subprocess.run(["ar", "rc", str(mixed / "c-archive.a"), str(APPS_SRC / "hello.c")], check=True)
    elf = nativeaot_binaries[0].path
    (mixed / "d-nativeaot").write_bytes(elf.read_bytes())
    (mixed / "e-libz.so").write_bytes(C_LIBRARIES[0].read_bytes())
    (mixed / "f-wine-version.dll").write_bytes((WINE_DLLS / "version.dll").read_bytes())
    done = run_ci("verify", "--runtime", runtimes["linux-x64"], "--app", mixed)
    assert done.returncode == 1, done.stdout + done.stderr  # the NativeAOT file is a violation
    assert done.stderr.splitlines() == [f"{mixed / 'b-synthetic.macho'}: not an ELF or PE binary: Mach-O (64-bit) (not checked)",
                                        f"{mixed / 'c-archive.a'}: not an ELF or PE binary: ar archive (not checked)"]
    assert "3 binaries checked" in done.stdout and "2 not checked (format)" in done.stdout
    _, result, _ = _verify(runtimes["linux-x64"], mixed)
    assert [a["app"] for a in result["apps"]] == [str(mixed / n) for n in ("d-nativeaot", "e-libz.so", "f-wine-version.dll")]
    assert result["unsupported"] == [{"app": str(mixed / "b-synthetic.macho"), "format": "Mach-O (64-bit)"},
                                     {"app": str(mixed / "c-archive.a"), "format": "ar archive"}]
    # Only unsupported files, no violation: bad input (2), each named on its own line.
    code, result, stderr = _verify(runtimes["linux-x64"], _macho(tmp_path / "only.macho"))
    assert code == 2 and result["apps"] == [] and len(stderr.splitlines()) == 1


def test_no_soname_on_the_runtime_is_a_warning(nativeaot_binaries, runtimes):
    """A stock NativeAOT shared library has no soname: apps would record its file name."""
    (library,) = [b.path for b in nativeaot_binaries if b.name == "lib linux-x64 net10.0"]
    _, result, _ = _verify(library, nativeaot_binaries[0].path)
    assert f"{library}: has no soname (DT_SONAME): apps record its file name, so renaming it breaks them" in result["notes"]
    # It is a real NativeAOT runtime: its own release is reported, and an app of another release is refused.
    assert result["runtime_nativeaot"]["release"] == ".NET 10"
    (net8,) = [b.path for b in nativeaot_binaries if b.release == ".NET 8"]
    _, result, _ = _verify(library, net8)
    assert "compiled for .NET 8, ReadyToRun 9.x, but Runtime.Base is .NET 10, ReadyToRun 16.x" in [
        v["problem"] for v in result["violations"]]


def _mingw_ucrt_dll(tmp_path: Path, source: str, *libs: str) -> Path:
    """A DLL linked by Debian's mingw-w64 against the UCRT (its specs with -lucrt for -lmsvcrt)."""
    specs = subprocess.run(["x86_64-w64-mingw32-gcc", "-dumpspecs"], capture_output=True, text=True, check=True).stdout
    (tmp_path / "ucrt.specs").write_text(specs.replace("-lmsvcrt", "-lucrt"))
    (tmp_path / "plugin.c").write_text(source)
    dll = tmp_path / "plugin.dll"
    done = subprocess.run(["x86_64-w64-mingw32-gcc", "-specs=ucrt.specs", "-D_UCRT", "-shared", "-o", dll, "plugin.c",
                           f"-L{tmp_path}", *libs], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return dll


_UCRT_PLUGIN = """#include <stdio.h>
#include <stdlib.h>
#include <winsock2.h>
#include <windows.h>
__declspec(dllexport) int plugin_entry(const char *s) {
    HKEY key; WSADATA wsa;
    if (RegOpenKeyExA(HKEY_LOCAL_MACHINE, "SOFTWARE", 0, KEY_READ, &key) == 0) RegCloseKey(key);
    CoInitializeEx(NULL, 0);
    WSAStartup(MAKEWORD(2, 2), &wsa);
    return printf("%s %d\\n", s, atoi(s)) + (int)ntohs(80);
}
"""


def test_ucrt_api_sets_and_the_forks_system_dlls_pass_the_floor(runtimes, tmp_path):
    # ntohs from WS2_32.dll by ordinal only (15), through an import library made from a .def file.
    (tmp_path / "ws2ord.def").write_text("LIBRARY WS2_32.dll\nEXPORTS\nntohs @15 NONAME\n")
    subprocess.run(["x86_64-w64-mingw32-dlltool", "-d", "ws2ord.def", "-l", "libws2ord.a"], cwd=tmp_path, check=True)
    dll = _mingw_ucrt_dll(tmp_path, _UCRT_PLUGIN, "-lws2ord", "-ladvapi32", "-lole32", "-lws2_32")
    _, result, _ = _verify(runtimes["win-x64"], dll)
    (record,) = result["apps"]
    assert "api-ms-win-crt-runtime-l1-1-0.dll" in record["dlls"] and {"advapi32.dll", "ole32.dll"} <= set(record["dlls"])
    floor = [v["problem"] for v in result["violations"] if v["problem"].startswith("imports ")]
    assert floor == []
    assert record["imports_by_ordinal"] == {"WS2_32.dll": [15]}


def test_a_dll_importing_d3d11_fails_the_floor_with_one_line(runtimes, tmp_path):
    source = "#include <d3d11.h>\n__declspec(dllexport) int f(void) { return (int)D3D11CreateDevice(0, 0, 0, 0, 0, 0, 7, 0, 0, 0); }\n"
    dll = _mingw_ucrt_dll(tmp_path, source, "-ld3d11")
    _, result, _ = _verify(runtimes["win-x64"], dll)
    floor = [v["problem"] for v in result["violations"] if v["problem"].startswith("imports ")]
    assert len(floor) == 1 and floor[0].startswith("imports d3d11.dll, not among win-x64's allowed DLLs (advapi32.dll, ")
