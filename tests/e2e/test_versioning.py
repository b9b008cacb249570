"""Versioning: one version source, the major in the ELF soname (with a dev link in the package),
VERSIONINFO resources in the Windows DLLs, and apps that record what they need."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pefile
import pytest

from ci.runtime.exports import version_node
from ci.runtime.fork.layout import VERSIONS
from ci.runtime.fork.link import version as fork_version
from ci.runtime.versioning import Version
from tests.conftest import REPO, run_ci

VERSION = (REPO / "reference/runtime/VERSION").read_text().strip()
PARSED = Version.parse(VERSION)
MAJOR = PARSED.major
SONAME = f"libRuntime.Base.so.{MAJOR}"
REAL_NAME = f"libRuntime.Base.so.{PARSED.major}.{PARSED.minor}.{PARSED.patch}"


def _readelf(*args: str | Path) -> str:
    return subprocess.run(["readelf", "-W", *map(str, args)], capture_output=True, text=True, check=True).stdout


def test_linux_package_holds_the_versioned_library_and_a_dev_link(pipeline):
    """lib/libRuntime.Base.so.M.m.p is the file; the soname link (.so.M) and the dev link (.so) point
    at it, with the file's time and no owner."""
    (archive,) = pipeline["dist"].glob("runtime-base-*-linux-x64.tar.gz")
    with tarfile.open(archive) as tar:
        library = tar.getmember(f"lib/{REAL_NAME}")
        links = {name: tar.getmember(f"lib/{name}") for name in ("libRuntime.Base.so", SONAME)}
    assert library.isreg()
    for name, link in links.items():
        assert link.issym() and link.linkname == REAL_NAME, name
        assert (link.mtime, link.uid, link.uname) == (library.mtime, 0, ""), name
    manifest = json.loads((pipeline["dist"] / archive.name.replace(".tar.gz", ".manifest.json")).read_text())
    assert (manifest["soname"], manifest["major"], manifest["library"]) == (SONAME, MAJOR, f"lib/{REAL_NAME}")
    assert manifest["link"] == ["lib/libRuntime.Base.so"]  # apps link against the dev link ...
    unpacked = pipeline["apps"] / "runtime"
    assert f"Library soname: [{SONAME}]" in _readelf("-d", unpacked / "lib" / REAL_NAME)


def test_apps_record_the_soname_and_symbol_version_they_need(pipeline):
    node = version_node(PARSED.major, 0)  # the reference apps use only what the first minor exports
    for app in ("hello", "alloc", "threads", "plugin_host", "plugins/libplugin_a.so"):
        path = pipeline["apps"] / "bin" / app
        dynamic = _readelf("-d", path)
        assert f"Shared library: [{SONAME}]" in dynamic and "[libRuntime.Base.so]" not in dynamic, app  # ... and load the versioned name
        needs = _readelf("-V", path).split("Version needs section", 1)[1]
        entry = needs.split(f"File: {SONAME}", 1)[1].split("File:", 1)[0]
        assert f"Name: {node}" in entry, app


@pytest.mark.parametrize("rid", ["win-x64", "win-arm64"])
def test_windows_dll_carries_a_version_resource_from_the_one_version_source(rid, tmp_path):
    done = run_ci("build", "--platform", rid, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stdout + done.stderr
    dll = pefile.PE(tmp_path / "out" / "lib" / "Runtime.Base.dll")
    fixed = dll.VS_FIXEDFILEINFO[0]
    parsed = Version.parse(VERSION)
    assert (fixed.FileVersionMS, fixed.FileVersionLS) == (parsed.major << 16 | parsed.minor, parsed.patch << 16)
    assert (fixed.ProductVersionMS, fixed.ProductVersionLS) == (fixed.FileVersionMS, fixed.FileVersionLS)
    strings = {k.decode(): v.decode() for info in dll.FileInfo[0] if info.Key == b"StringFileInfo"
               for table in info.StringTable for k, v in table.entries.items()}
    assert strings["FileVersion"] == strings["ProductVersion"] == VERSION
    assert strings["OriginalFilename"] == "Runtime.Base.dll"
    if rid == "win-x64":  # a second reader: binutils decompiles the resource back to a script
        script = subprocess.run(["x86_64-w64-mingw32-windres", "-i", tmp_path / "out/lib/Runtime.Base.dll", "-O", "rc"],
                                capture_output=True, text=True, check=True).stdout
        assert f"FILEVERSION {parsed.major}, {parsed.minor}, {parsed.patch}, 0" in script
        assert f'VALUE "FileVersion", "{VERSION}"' in script


def test_the_fork_version_comes_from_versions_props(tmp_path):
    props = tmp_path / VERSIONS
    props.parent.mkdir(parents=True)
    props.write_text("<Project><PropertyGroup><MajorVersion>11</MajorVersion><MinorVersion>2</MinorVersion>"
                     "<PatchVersion>3</PatchVersion></PropertyGroup></Project>")
    text = fork_version(tmp_path, "0123456789abcdef" * 2 + "01234567")
    assert text == "11.2.3-fork.0123456789ab"
    assert (Version.parse(text).major, Version.parse(text).minor) == (11, 2)
