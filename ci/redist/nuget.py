"""Runtime.Base as NuGet packages, written byte-reproducibly with the project's zip writer.

- RuntimeBase.Runtime.<rid> (the runtime-pack naming of Microsoft.NETCore.App.Runtime.<rid>):
  runtimes/<rid>/native/ the library (and on Windows its import library), include/ the header,
  manifest.json and the SBOM.
- RuntimeBase.Sdk: build/ and buildTransitive/ props/targets (packaging/msbuild/: the split's
  differences over the SDK's own NativeAOT targets), ilc/<rid>/ the ILC inputs of each packaged rid
  (the SDK archive's tools/, framework/, sdk/), and runtime.json mapping each rid to its runtime
  pack, as Microsoft.DotNet.ILCompiler maps rids to runtime.<rid>.Microsoft.DotNet.ILCompiler.

The OPC parts ([Content_Types].xml, _rels/.rels) have fixed contents and relationship ids; there
is no core-properties part (.psmdcp), which the NuGet client does not need to restore.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from ci.core.errors import StageFailed
from ci.core.resources import packaging_file
from ci.platforms import Platform
from ci.platforms.toolchains import GnuElf
from ci.redist import archive
from ci.redist.dist import NUPKG_SUFFIX
from ci.runtime.fork.layout import SdkLayout
from ci.runtime.versioning import Version

SDK_ID = "RuntimeBase.Sdk"
_MSBUILD = ("props", "targets")
#: NuGet's package id rule (NuGet.Packaging PackageIdValidator): dot- or dash-separated words, 100 at most.
_ID = re.compile(r"\w+([.-]\w+)*")
_ID_MAX = 100
_NUSPEC_NS = "{http://schemas.microsoft.com/packaging/2013/01/nuspec.xsd}"


def runtime_id(rid: str) -> str:
    return f"RuntimeBase.Runtime.{rid}"


def nupkg_name(package_id: str, version: str) -> str:
    return f"{package_id}.{version}{NUPKG_SUFFIX}"


def msbuild_dir() -> Path:
    return packaging_file(f"msbuild/{SDK_ID}.targets").parent


def nuspec(package_id: str, version: str, description: str, commit: str | None) -> str:
    repository = f'\n    <repository type="git" commit="{escape(commit)}" />' if commit else ""
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<package xmlns="http://schemas.microsoft.com/packaging/2013/01/nuspec.xsd">\n'
            "  <metadata>\n"
            f"    <id>{escape(package_id)}</id>\n    <version>{escape(version)}</version>\n"
            "    <authors>runtime-base-ci</authors>\n    <license type=\"expression\">MIT</license>\n"
            f"    <description>{escape(description)}</description>{repository}\n"
            "  </metadata>\n</package>\n")


_CONTENT_TYPES = ('<?xml version="1.0" encoding="utf-8"?>\n'
                  '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />'
                  '<Default Extension="nuspec" ContentType="application/octet" />'
                  '<Default Extension="xml" ContentType="application/octet" />'
                  '<Override PartName="/" ContentType="application/octet" />'
                  "</Types>\n")


def _rels(nuspec_name: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/{nuspec_name}" Id="R0" />'
            "</Relationships>\n")


def write_nupkg(dest: Path, package_id: str, version: str, description: str, files: dict[str, Path],
                epoch: int, commit: str | None = None) -> str:
    """Write `files` (name in the package -> file) with the nuspec and OPC parts; the sha256."""
    staging = dest.parent / f".{dest.name}.parts"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        spec = f"{package_id}.nuspec"
        parts = {spec: nuspec(package_id, version, description, commit), "[Content_Types].xml": _CONTENT_TYPES,
                 "_rels/.rels": _rels(spec)}
        written = {}
        for name, text in parts.items():
            path = staging / name.replace("/", "_")
            path.write_text(text, encoding="utf-8")
            written[name] = path
        return archive.write_zip(dest, {**written, **files}, epoch, first=spec)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def runtime_assets(platform: Platform, version: str) -> list[str]:
    """What RuntimeBase.Sdk.targets takes from the runtime pack (RuntimeBaseLibrary and, published
    app-local, the library itself): the soname of the version's major, or the DLL and import library."""
    native = f"runtimes/{platform.rid}/native"
    toolchain = platform.toolchain
    if isinstance(toolchain, GnuElf):
        return [f"{native}/{toolchain.soname(Version.parse(version).major)}", "manifest.json"]
    return [f"{native}/{toolchain.library_name}", f"{native}/{toolchain.import_library}", "manifest.json"]


def sdk_assets(platforms: Iterable[Platform], configuration: str) -> list[str]:
    """What RuntimeBase.Sdk.targets points the SDK's targets at, per packaged rid: ILC, the Outplace
    CoreLib and the bootstrapperoutplace object (named as the SDK layout names them)."""
    assets = [f"{folder}/{SDK_ID}.{kind}" for folder in ("build", "buildTransitive") for kind in _MSBUILD]
    for platform in platforms:
        root = Path("ilc") / platform.rid
        layout = SdkLayout(root, platform, configuration)
        assets += [product.path.as_posix() for product in
                   (layout.ilc, layout.outplace_corelib, layout.aotsdk("obj", "bootstrapperoutplace"))]
    return assets


def check_nupkg(path: Path, package_id: str, version: str, assets: Iterable[str]) -> None:
    """Read a written package back as the NuGet client reads it: a nuspec at the root whose id and
    version are the package's, and every asset the MSBuild targets take from it; else one line."""
    def fail(problem: str) -> StageFailed:
        return StageFailed(f"package: {path.name}: {problem}")

    if len(package_id) > _ID_MAX or not _ID.fullmatch(package_id):
        raise fail(f"{package_id!r} is not a NuGet package id (words joined by '.' or '-', at most {_ID_MAX})")
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            spec = package.read(f"{package_id}.nuspec")
    except KeyError:
        raise fail(f"has no {package_id}.nuspec at its root") from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise fail(f"cannot be read as a zip ({exc})") from None
    try:
        metadata = ElementTree.fromstring(spec).find(f"{_NUSPEC_NS}metadata")
    except ElementTree.ParseError as exc:
        raise fail(f"its nuspec is not XML ({exc})") from None
    found = {field: (metadata.findtext(f"{_NUSPEC_NS}{field}") if metadata is not None else None)
             for field in ("id", "version", "authors", "description")}
    if (found["id"], found["version"]) != (package_id, version) or not all(found.values()):
        raise fail(f"its nuspec says id {found['id']!r}, version {found['version']!r} (authors and description "
                   f"required), not {package_id} {version}")
    missing = sorted(set(assets) - names)
    if missing:
        raise fail(f"missing {', '.join(missing)} (the MSBuild targets need them)")


def runtime_files(rid: str, files: dict[str, Path], manifest: Path, sbom: Path, include: str = "include/") -> dict[str, Path]:
    """The runtime pack's entries from the runtime archive's (archive name -> file).

    A package holds no links, so a versioned ELF library (libRuntime.Base.so.10.0.0) goes in under
    its soname (libRuntime.Base.so.10): the name its apps' DT_NEEDED asks the loader for, app-local too.
    """
    facts = json.loads(manifest.read_text(encoding="utf-8"))
    library, soname = facts["library"], facts.get("soname")
    entries = {f"runtimes/{rid}/native/{soname if name == library and soname else Path(name).name}": path
               for name, path in files.items() if not name.startswith(include) and not path.is_symlink()}
    entries |= {name: path for name, path in files.items() if name.startswith(include)}
    return {**entries, "manifest.json": manifest, sbom.name: sbom}


def sdk_files(ilc: dict[str, dict[str, Path]], version: str, staging: Path) -> dict[str, Path]:
    """The SDK package's entries: MSBuild files, runtime.json, and ilc/<rid>/ per packaged rid."""
    entries = {}
    for kind in _MSBUILD:
        source = msbuild_dir() / f"{SDK_ID}.{kind}"
        entries[f"build/{SDK_ID}.{kind}"] = source
        transitive = staging / f"transitive.{kind}"
        transitive.write_text(f'<Project>\n  <Import Project="../build/{SDK_ID}.{kind}" />\n</Project>\n', encoding="utf-8")
        entries[f"buildTransitive/{SDK_ID}.{kind}"] = transitive
    runtimes = {rid: {"#import": [], SDK_ID: {runtime_id(rid): f"[{version}]"}} for rid in sorted(ilc)}
    (staging / "runtime.json").write_text(json.dumps({"runtimes": runtimes}, indent=2) + "\n", encoding="utf-8")
    entries["runtime.json"] = staging / "runtime.json"
    for rid, files in ilc.items():
        entries |= {f"ilc/{rid}/{name}": path for name, path in files.items()}
    return entries
