"""Toolchains find their tools on the host they run on: a Windows runner's layout (faked with
scripts that answer as its tools do), a Debian one (faked), and this machine (for real)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci.core import schemas
from ci.platforms import PLATFORMS
from ci.platforms.hosttools import ToolMissing, dumpmachine, same_target
from ci.platforms.toolchains import ClangCoff, GnuElf, MinGW, locate
from tests.conftest import REPO

MINGW = MinGW("x86_64-w64-mingw32")


def script(path: Path, cases: dict[str, str]) -> Path:
    """An executable that answers like a real tool: `case "$1"` over the arguments it is asked with.
    Only shell builtins: the fake PATH has no coreutils."""
    arms = "\n".join(f"    {pattern}) {body} ;;" for pattern, body in cases.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\ncase "$1" in\n{arms}\n    *) exit 1 ;;\nesac\n')
    path.chmod(0o755)
    return path


def search_list(*dirs: Path) -> str:
    """What gcc and clang print to stderr for `-xc -E -v -`."""
    lines = ["#include <...> search starts here:", *(f" {d}" for d in dirs), "End of search list."]
    return " ".join(f"echo '{line}' >&2;" for line in lines)


def gcc(path: Path, machine: str, include: Path, prog_dir: Path | None = None, version: str = "gcc 14.2.0",
        macros: str = "") -> Path:
    """`macros`: what `-dM -E` prints (the C runtime's macros of a MinGW gcc)."""
    include.mkdir(parents=True, exist_ok=True)
    own = f'echo "{prog_dir}/${{1#-print-prog-name=}}"' if prog_dir else 'echo "${1#-print-prog-name=}"'
    return script(path, {"-dumpmachine": f"echo {machine}", "-print-prog-name=*": own, "--version": f"echo '{version}'",
                         "-xc": search_list(include.parent / "lib-gcc-include", include), "-dM": f"echo '{macros}'"})


def binutil(path: Path, name: str, *targets: str) -> Path:
    return script(path, {"--help": f"echo 'Usage: {name} in-file'; echo '{name}: supported targets: {' '.join(targets)}'",
                         "--version": f"echo 'GNU {name} (GNU Binutils) 2.46'"})


def objcopy(path: Path, *targets: str) -> Path:
    return binutil(path, "objcopy", *targets)


PE_X64 = ("pe-x86-64", "pei-x86-64", "pe-bigobj-x86-64", "elf64-x86-64")


def windows_mingw(root: Path) -> Path:
    """windows-2025's MinGW, fact by fact:
    - niXman's mingw-builds `x86_64-*-release-posix-seh-ucrt-*.7z` unpacked to C:\\ and C:\\mingw64\\bin put on
      PATH (actions/runner-images images/windows/scripts/build/Install-Mingw64.ps1 @ 90dbafb);
    - version 15.*, runtime ucrt (images/windows/toolsets/toolset-2025-vs2026.json @ 0367b0c, the image
      windows-2025 has been since June 2026: runner-images issue #14017);
    - gcc 15.2.0, GNU Binutils 2.46 (images/windows/Windows2025-VS2026-Readme.md @ 07d0831);
    - gcc as gcc.exe and x86_64-w64-mingw32-gcc.exe, binutils unprefixed only (ar.exe, objcopy.exe,
      windres.exe), the layout of a mingw-builds bin/ (not read from a listing of the archive here);
    - UCRT: _mingw.h defines _UCRT and __MSVCRT_VERSION__ 0xE00, and lib/ holds the UCRT import
      libraries (libucrt.a for api-ms-win-crt-*.dll, libucrtbase.a) beside the system ones.
    Tools answer with their real output's shape; `.exe` is dropped (the fake PATH is searched on Linux)."""
    mingw = root / "mingw64"
    target = mingw / "x86_64-w64-mingw32"
    headers = target / "include"
    ucrt = "#define __MSVCRT_VERSION__ 0xE00\n#define _UCRT \n#define __MINGW64__ 1"
    for name in ("gcc", "x86_64-w64-mingw32-gcc"):
        gcc(mingw / "bin" / name, "x86_64-w64-mingw32", headers, version="gcc.exe (x86_64-posix-seh-rev0, Built by MinGW-Builds project) 15.2.0",
            macros=ucrt)
    (headers / "windows.h").write_text("")
    for name in ("objcopy", "ar", "windres"):
        binutil(mingw / "bin" / name, name, *PE_X64)
    (target / "lib").mkdir(parents=True)
    for lib in ("libucrt.a", "libucrtbase.a", "libmsvcrt.a", "libkernel32.a", "libbcrypt.a", "libntdll.a"):
        (target / "lib" / lib).write_text("!<arch>\n")
    return mingw / "bin"


def windows_llvm(root: Path) -> Path:
    """windows-11-arm: LLVM in C:\\Program Files\\LLVM\\bin (Install-LLVM.ps1 @ 3390d85): clang, lld-link,
    llvm-lib, llvm-dlltool; clang's builtin headers in its resource dir, no mingw-w64 headers of its own."""
    llvm = root / "LLVM"
    resource = llvm / "lib" / "clang" / "20"
    (resource / "include").mkdir(parents=True)
    (resource / "include" / "stddef.h").write_text("")
    script(llvm / "bin" / "clang", {"--print-resource-dir": f"echo {resource}", "--version": "echo 'clang version 20.1.6'",
                                    "--target=*": search_list(resource / "include")})
    for tool in ("lld-link", "llvm-lib", "llvm-dlltool"):
        script(llvm / "bin" / tool, {"--version": f"echo '{tool} LLVM 20.1.6'"})
    return llvm / "bin"


def test_mingw_on_a_windows_runner_is_found_unprefixed(tmp_path):
    bin_dir = windows_mingw(tmp_path)
    tools = locate(MINGW, str(bin_dir))
    # The prefixed gcc comes first; ar, objcopy and windres exist only unprefixed, beside it.
    assert [f.role for f in tools.found] == ["compiler", "objcopy", "ar", "windres", "headers"]
    assert tools["compiler"] == str(bin_dir / "x86_64-w64-mingw32-gcc")
    for name in ("objcopy", "ar", "windres"):
        assert tools[name] == str(bin_dir / name)
    assert tools["headers"] == str(tmp_path / "mingw64" / "x86_64-w64-mingw32" / "include")
    how = {f.role: f.how for f in tools.found}
    assert how["compiler"] == "x86_64-w64-mingw32-gcc on PATH (-dumpmachine x86_64-w64-mingw32, C runtime ucrt)"
    assert how["ar"] == f"ar beside {bin_dir / 'x86_64-w64-mingw32-gcc'} (supports pe-x86-64)"
    assert how["windres"] == f"windres beside {bin_dir / 'x86_64-w64-mingw32-gcc'} (supports pe-x86-64)"


def test_a_mingw_without_windres_names_every_place_tried(tmp_path):
    bin_dir = windows_mingw(tmp_path)
    (bin_dir / "windres").unlink()
    with pytest.raises(ToolMissing) as missing:
        locate(MINGW, str(bin_dir))
    assert str(missing.value).startswith(
        "x86_64-w64-mingw32 toolchain: no windres found; tried x86_64-w64-mingw32-gcc -print-prog-name=windres: absent; "
        "x86_64-w64-mingw32-windres on PATH: absent; windres beside ")


def test_debians_mingw_is_msvcrt_and_prefixed(tmp_path):
    """For real: this machine's x86_64-w64-mingw32-gcc (Debian's, msvcrt) and its prefixed binutils."""
    tools = locate(MINGW)
    how = {f.role: f.how for f in tools.found}
    assert how["compiler"].endswith("(-dumpmachine x86_64-w64-mingw32, C runtime msvcrt)")
    assert os.path.basename(tools["windres"]) == "x86_64-w64-mingw32-windres"
    assert os.path.basename(tools["ar"]) in ("ar", "x86_64-w64-mingw32-ar")  # gcc's own (-print-prog-name)


def test_the_win_x64_platform_compiles_with_the_runners_mingw(tmp_path, monkeypatch):
    bin_dir = windows_mingw(tmp_path)
    monkeypatch.setenv("PATH", str(bin_dir))
    toolchain = PLATFORMS["win-x64"].toolchain
    assert toolchain.cc == (str(bin_dir / "x86_64-w64-mingw32-gcc"),)
    assert toolchain.objcopy == str(bin_dir / "objcopy")
    assert toolchain.windres == str(bin_dir / "windres")
    assert toolchain.versions() == ["gcc.exe (x86_64-posix-seh-rev0, Built by MinGW-Builds project) 15.2.0",
                                    "GNU objcopy (GNU Binutils) 2.46"]


def test_a_linux_gcc_is_never_taken_for_mingw(tmp_path):
    usr_bin = tmp_path / "usr" / "bin"
    gcc(usr_bin / "gcc", "x86_64-linux-gnu", tmp_path / "usr" / "include")
    with pytest.raises(ToolMissing) as missing:
        locate(MINGW, str(usr_bin))
    assert str(missing.value) == (
        f"x86_64-w64-mingw32 toolchain: no compiler found; tried x86_64-w64-mingw32-gcc on PATH: absent; "
        f"gcc on PATH: {usr_bin / 'gcc'} -dumpmachine x86_64-linux-gnu (install x86_64-w64-mingw32-gcc and its binutils)")


def test_an_objcopy_that_cannot_write_pe_is_rejected_with_what_it_lacks(tmp_path):
    bin_dir = windows_mingw(tmp_path)
    objcopy(bin_dir / "objcopy", "elf64-x86-64")  # a Linux binutils first on PATH
    with pytest.raises(ToolMissing, match=r"no objcopy found; tried x86_64-w64-mingw32-gcc -print-prog-name=objcopy: absent; "
                                          r"x86_64-w64-mingw32-objcopy on PATH: absent; "
                                          r"objcopy beside .*/x86_64-w64-mingw32-gcc: .*/objcopy does not support pe-x86-64"):
        locate(MINGW, str(bin_dir))


def test_debian_cross_gcc_uses_its_own_binutils(tmp_path):
    """Debian: aarch64-linux-gnu-gcc runs /usr/aarch64-linux-gnu/bin/objcopy (its -print-prog-name)."""
    prog_dir = tmp_path / "usr" / "aarch64-linux-gnu" / "bin"
    objcopy(prog_dir / "objcopy", "elf64-littleaarch64", "pe-aarch64-little")
    binutil(prog_dir / "ar", "ar", "elf64-littleaarch64")
    headers = tmp_path / "usr" / "aarch64-linux-gnu" / "include"
    gcc(tmp_path / "usr" / "bin" / "aarch64-linux-gnu-gcc", "aarch64-linux-gnu", headers, prog_dir)
    (headers / "stdio.h").write_text("")
    tools = locate(GnuElf("aarch64-linux-gnu"), str(tmp_path / "usr" / "bin"))
    assert tools["compiler"] == str(tmp_path / "usr" / "bin" / "aarch64-linux-gnu-gcc")
    assert tools["objcopy"] == str(prog_dir / "objcopy")
    assert tools["ar"] == str(prog_dir / "ar")
    assert tools["headers"] == str(headers)


def test_win_arm64_on_a_windows_arm_runner_takes_headers_from_its_mingw(tmp_path):
    llvm, mingw = windows_llvm(tmp_path), windows_mingw(tmp_path)
    tools = locate(ClangCoff(), os.pathsep.join([str(llvm), str(mingw)]))
    assert [f.role for f in tools.found] == ["clang", "builtin headers", "lld-link", "llvm-lib", "llvm-dlltool", "headers"]
    assert tools["lld-link"] == str(llvm / "lld-link")
    assert tools["builtin headers"] == str(tmp_path / "LLVM" / "lib" / "clang" / "20" / "include")
    assert tools["headers"] == str(tmp_path / "mingw64" / "x86_64-w64-mingw32" / "include")
    how = {f.role: f.how for f in tools.found}
    assert how["headers"] == "windows.h in x86_64-w64-mingw32-gcc's #include search list"
    assert how["llvm-lib"] == f"llvm-lib beside {llvm / 'clang'}"


def test_win_arm64_without_any_mingw_says_the_headers_are_missing(tmp_path):
    llvm = windows_llvm(tmp_path)
    with pytest.raises(ToolMissing) as missing:
        locate(ClangCoff(), str(llvm))
    message = str(missing.value)
    assert message.startswith("aarch64-w64-mingw32 toolchain: no headers found; tried windows.h in clang "
                              "--target=aarch64-w64-mingw32's #include search list: absent; "
                              "x86_64-w64-mingw32-gcc on PATH: absent;")
    assert "\n" not in message


def test_clang_without_builtin_headers_is_a_broken_install(tmp_path):
    llvm = windows_llvm(tmp_path)
    (tmp_path / "LLVM" / "lib" / "clang" / "20" / "include" / "stddef.h").unlink()
    with pytest.raises(ToolMissing, match=r"no builtin headers found; tried stddef.h in clang --print-resource-dir: absent"):
        locate(ClangCoff(), str(llvm))


@pytest.mark.parametrize("rid", list(PLATFORMS))
def test_every_toolchain_is_found_on_this_machine_and_compiles(rid, tmp_path):
    """For real: each found tool exists, the compiler targets the platform and compiles against the
    headers found."""
    platform = PLATFORMS[rid]
    tools = locate(platform.toolchain)
    for found in tools.found:
        assert os.path.isabs(found.path) and os.path.exists(found.path), found
    header = "windows.h" if platform.os == "win" else "stdio.h"
    assert (Path(tools["headers"]) / header).is_file()
    source = tmp_path / "probe.c"
    source.write_text(f"#include <{header}>\nint probe(void) {{ return 0; }}\n")
    subprocess.run([*platform.toolchain.cc, "-c", str(source), "-o", str(tmp_path / "probe.o")], check=True)
    if isinstance(platform.toolchain, GnuElf | MinGW):
        assert dumpmachine(tools["compiler"]) == platform.toolchain.triplet


def run_cli(*args: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ci", "toolchains", *args], cwd=REPO, env={**os.environ, "PATH": path},
                          capture_output=True, text=True)


def test_the_toolchains_command_reports_a_windows_runners_mingw_as_json(tmp_path):
    bin_dir = windows_mingw(tmp_path)
    done = run_cli("--platform", "win-x64", "--json", path=str(bin_dir))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    schemas.validate("toolchains", report, "stdout")
    (entry,) = report["platforms"]
    assert entry["ok"] and [t["path"] for t in entry["tools"]] == [
        str(bin_dir / "x86_64-w64-mingw32-gcc"), *(str(bin_dir / name) for name in ("objcopy", "ar", "windres")),
        str(tmp_path / "mingw64" / "x86_64-w64-mingw32" / "include")]


def test_the_toolchains_command_fails_naming_what_is_missing(tmp_path):
    done = run_cli("--platform", "win-arm64", "--platform", "win-x64", path=str(tmp_path))
    assert done.returncode == 1
    assert "aarch64-w64-mingw32 toolchain: no clang found" in " ".join(done.stdout.split())
    assert "x86_64-w64-mingw32 toolchain: no compiler found" in " ".join(done.stdout.split())


@pytest.mark.parametrize("machine, triplet, same", [
    ("x86_64-linux-gnu", "x86_64-linux-gnu", True),
    ("x86_64-redhat-linux", "x86_64-linux-gnu", True),  # a vendor field does not matter
    ("x86_64-w64-mingw32", "x86_64-linux-gnu", False),
    ("x86_64-linux-gnu", "x86_64-w64-mingw32", False),
    ("aarch64-linux-gnu", "x86_64-linux-gnu", False),
    (None, "x86_64-linux-gnu", False),  # -dumpmachine failed
])
def test_a_compiler_is_taken_only_for_its_own_cpu_and_os(machine, triplet, same):
    assert same_target(machine, triplet) is same
