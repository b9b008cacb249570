"""A written .nupkg is read back as the NuGet client reads it: the nuspec and every asset the MSBuild
targets take from it, or the package stage fails in one line naming the package."""

from __future__ import annotations

import zipfile

import pytest

from ci.core.errors import StageFailed
from ci.platforms import get_platform
from ci.redist import nuget

VERSION = "10.0.0-ref.1"
RID = "linux-x64"
PACKAGE_ID = nuget.runtime_id(RID)


def _written(tmp_path, files: dict[str, bytes], package_id: str = PACKAGE_ID):
    inputs = {}
    for name, data in files.items():
        inputs[name] = tmp_path / "in" / name.replace("/", "_")
        inputs[name].parent.mkdir(exist_ok=True)
        inputs[name].write_bytes(data)
    dest = tmp_path / nuget.nupkg_name(package_id, VERSION)
    nuget.write_nupkg(dest, package_id, VERSION, "a runtime pack", inputs, 1_700_000_000)
    return dest


def test_a_whole_runtime_pack_passes(tmp_path):
    assets = nuget.runtime_assets(get_platform(RID), VERSION)
    assert assets == [f"runtimes/{RID}/native/libRuntime.Base.so.10", "manifest.json"]
    nuget.check_nupkg(_written(tmp_path, dict.fromkeys(assets, b"x")), PACKAGE_ID, VERSION, assets)


def test_a_missing_asset_fails_in_one_line(tmp_path):
    assets = nuget.runtime_assets(get_platform(RID), VERSION)
    package = _written(tmp_path, {"manifest.json": b"{}"})
    with pytest.raises(StageFailed) as failed:
        nuget.check_nupkg(package, PACKAGE_ID, VERSION, assets)
    assert str(failed.value) == (f"package: {package.name}: missing runtimes/{RID}/native/libRuntime.Base.so.10 "
                                 "(the MSBuild targets need them)")


@pytest.mark.parametrize(("nuspec", "problem"), [
    (b"<package><metadata>", "its nuspec is not XML"),
    (b'<package xmlns="http://schemas.microsoft.com/packaging/2013/01/nuspec.xsd"><metadata><id>Other</id>'
     b"<version>1.0.0</version><authors>a</authors><description>d</description></metadata></package>",
     "its nuspec says id 'Other', version '1.0.0'"),
    (None, f"has no {PACKAGE_ID}.nuspec at its root"),
])
def test_a_broken_nuspec_fails_in_one_line(tmp_path, nuspec, problem):
    package = tmp_path / "broken.nupkg"
    with zipfile.ZipFile(package, "w") as z:
        z.writestr("manifest.json", b"{}")
        if nuspec is not None:
            z.writestr(f"{PACKAGE_ID}.nuspec", nuspec)
    with pytest.raises(StageFailed, match=r"^package: broken\.nupkg: ") as failed:
        nuget.check_nupkg(package, PACKAGE_ID, VERSION, ["manifest.json"])
    assert problem in str(failed.value) and "\n" not in str(failed.value)


def test_an_id_nuget_refuses_is_named(tmp_path):
    with pytest.raises(StageFailed, match="'Runtime Base' is not a NuGet package id"):
        nuget.check_nupkg(tmp_path / "x.nupkg", "Runtime Base", VERSION, [])


def test_the_sdk_package_must_carry_what_the_targets_point_at():
    assets = nuget.sdk_assets([get_platform("win-x64")], "Release")
    assert {"build/RuntimeBase.Sdk.targets", "buildTransitive/RuntimeBase.Sdk.props", "ilc/win-x64/tools/ilc.exe",
            "ilc/win-x64/framework/System.Private.CoreLib.dll", "ilc/win-x64/sdk/bootstrapperoutplace.obj"} <= set(assets)
