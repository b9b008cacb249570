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
import shutil
from pathlib import Path
from xml.sax.saxutils import escape

from ci.core.resources import packaging_file
from ci.redist import archive
from ci.redist.dist import NUPKG_SUFFIX

SDK_ID = "RuntimeBase.Sdk"
_MSBUILD = ("props", "targets")


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
