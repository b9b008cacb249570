"""The Windows build host report (`python -m ci build-host`), fed what windows-2025's
tools answer: vswhere's JSON in the shape its docs give (microsoft/vswhere wiki: an array of
instances with instanceId, installationPath, installationVersion, displayName, catalog), with the
values of actions/runner-images images/windows/Windows2025-VS2026-Readme.md @ 07d0831:
Visual Studio Enterprise 2026 18.4.11620.152 in C:\\Program Files\\Microsoft Visual Studio\\18\\Enterprise,
Windows SDK 10.0.26100.0, CMake 4.3.1. The MSVC toolset version (14.50.35719) is the readme's VC++
runtime version: the readme does not list the toolset's own version file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci.core import schemas
from ci.core.errors import CiError
from ci.platforms.buildhost import VC_VERSION_FILE, vs_instances, windows_build_host
from tests.conftest import REPO


def vswhere_json(installation: Path) -> str:
    return json.dumps([{
        "instanceId": "8f3e5d72", "installDate": "2026-03-29T10:12:44Z", "installationName": "VisualStudio/18.4.3+11620.152",
        "installationPath": str(installation), "installationVersion": "18.4.11620.152",
        "productId": "Microsoft.VisualStudio.Product.Enterprise", "isPrerelease": False,
        "displayName": "Visual Studio Enterprise 2026",
        "catalog": {"buildVersion": "18.4.11620.152", "productDisplayVersion": "18.4.3", "productLine": "Dev18",
                    "productLineVersion": "2026", "productName": "Visual Studio"},
    }], indent=2)


def windows_2025(root: Path) -> dict[str, Path]:
    """vswhere (a script printing its JSON), the VS tree, Windows Kits and cmake, as on the image."""
    vs = root / "Program Files" / "Microsoft Visual Studio" / "18" / "Enterprise"
    (vs / VC_VERSION_FILE).parent.mkdir(parents=True)
    (vs / VC_VERSION_FILE).write_text("\ufeff14.50.35719\r\n", encoding="utf-8")  # the installer writes a BOM and CRLF
    kits = root / "Windows Kits" / "10"
    (kits / "Lib" / "10.0.26100.0" / "um" / "x64").mkdir(parents=True)
    (root / "vswhere.json").write_text(vswhere_json(vs))
    vswhere = root / "vswhere.exe"
    vswhere.write_text(f'#!/bin/sh\ncat "{root / "vswhere.json"}"\n')
    bin_dir = root / "CMake" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "cmake").write_text("#!/bin/sh\necho 'cmake version 4.3.1'; echo; echo 'CMake suite maintained by Kitware'\n")
    for tool in (vswhere, bin_dir / "cmake"):
        tool.chmod(0o755)
    return {"vs": vs, "kits": kits, "vswhere": vswhere, "bin": bin_dir}


def test_the_report_names_visual_studio_msvc_the_sdk_cmake_and_python(tmp_path):
    host = windows_2025(tmp_path)
    rows = {r.name: r for r in windows_build_host(host["vswhere"], host["kits"], search=str(host["bin"]))}
    assert list(rows) == ["Visual Studio 2026 (18.4.3)", "MSVC (default toolset)", "Windows SDK", "CMake", "Python"]
    assert rows["Visual Studio 2026 (18.4.3)"].version == "18.4.11620.152"
    assert rows["Visual Studio 2026 (18.4.3)"].where == f"Visual Studio Enterprise 2026: {host['vs']}"
    assert rows["MSVC (default toolset)"].version == "14.50.35719"
    assert rows["Windows SDK"].version == "10.0.26100.0"
    assert rows["CMake"].version == "4.3.1"
    assert rows["Python"].version == sys.version.split()[0]


def test_a_host_without_visual_studio_says_so_and_what_was_looked_for(tmp_path):
    rows = windows_build_host(tmp_path / "vswhere.exe", tmp_path / "kits", search=str(tmp_path))
    assert [(r.name, r.version) for r in rows] == [("Visual Studio", None), ("Windows SDK", None), ("CMake", None),
                                                   ("Python", sys.version.split()[0])]
    assert rows[0].where == f"{tmp_path / 'vswhere.exe'}: vswhere not found"


@pytest.mark.parametrize("text", ["not json", '{"instanceId": 1}', '[{"installationPath": "C:\\\\VS"}]'])
def test_output_that_is_not_vswheres_instance_list_is_one_line(text):
    with pytest.raises(CiError) as error:
        vs_instances(text, "vswhere.exe")
    assert str(error.value).startswith("vswhere.exe: not vswhere's JSON instance list (") and "\n" not in str(error.value)


def test_the_build_host_command_writes_json_and_the_job_summary(tmp_path):
    host = windows_2025(tmp_path)
    summary = tmp_path / "summary.md"
    done = subprocess.run([sys.executable, "-m", "ci", "build-host", "--json", "--vswhere", str(host["vswhere"]), "--windows-kits", str(host["kits"])], cwd=REPO,
                          env={**os.environ, "PATH": os.pathsep.join([str(host["bin"]), os.environ["PATH"]]),
                               "GITHUB_STEP_SUMMARY": str(summary)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    schemas.validate("build-host", report, "stdout")
    assert {r["name"]: r["version"] for r in report["tools"]}["MSVC (default toolset)"] == "14.50.35719"
    text = summary.read_text()
    assert "| Visual Studio 2026 (18.4.3) | 18.4.11620.152 |" in text and "| CMake | 4.3.1 |" in text
