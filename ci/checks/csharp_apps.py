"""The C# sample apps (samples/), built from the unpacked runtime and SDK packages only.

For each sample: `dotnet build` makes its IL, ILC (the SDK's tools/) compiles it against the SDK's
framework/ and sdk/ assemblies, and the linker links it with the SDK's libraries and the
bootstrapperoutplace object against the runtime package's Runtime.Base: the response files come
from the same link plan as the fork's own Runtime.Base link (ci/runtime/fork/linkplan.py). The apps
join the app set, so verify, share and smoke run on them as on the C apps. When a stand-in made
the SDK or ran here (the fork's build, ILC, dotnet), csharp/stand-ins.json says which.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ci.core.errors import CiError
from ci.core.fs import atomic_write_text
from ci.platforms import Platform
from ci.redist.sdk import sdk_of, unpack_sdk
from ci.redist.unpack import Unpacked
from ci.runtime.fork import linkplan, stand_in
from ci.runtime.fork.layout import SdkLayout

OUT = "csharp"  # under the app set: the unpacked SDK, response files, IL, objects, the apps
DOTNET_VAR = "DOTNET"  # `dotnet` for the IL step when no fork checkout provides one


def default_dotnet() -> Path | None:
    found = os.environ.get(DOTNET_VAR) or shutil.which("dotnet")
    return Path(found) if found else None


def app_name(sample: str) -> str:
    """The sample's name in the app set, apart from the C app of the same name."""
    return f"{sample}-cs"


def inputs() -> dict[str, Path]:
    """The samples' files, for the apps stage's cache key."""
    root = linkplan.samples_dir()
    return {f"samples/{p.relative_to(root).as_posix()}": p for p in sorted(root.rglob("*")) if p.is_file()
            and not {"bin", "obj"} & set(p.relative_to(root).parts)}


def build_csharp_apps(platform: Platform, runtime: Unpacked, package: Path, out: Path,
                      dotnet: Path | None) -> list[tuple[str, Path]]:
    """(name, exe) of every C# sample, built from the packages; [] when the runtime package names no SDK."""
    sdk_archive = sdk_of(package, runtime.manifest)
    if sdk_archive is None:
        return []
    if dotnet is None:
        raise CiError(f"{platform.rid}: C# apps need `dotnet` for their IL: set ${DOTNET_VAR} or put dotnet on PATH")
    work = out / OUT
    sdk = unpack_sdk(sdk_archive, work / "sdk", platform.rid)
    layout = SdkLayout(sdk.root, platform, runtime.manifest["configuration"], dotnet_path=dotnet)
    runtime_dir = (runtime.root / runtime.manifest["link"][0]).parent
    plan = linkplan.make_plan(layout, linkplan.find_tools(platform), work, linkplan.sample_names(),
                              runtime_dir=runtime_dir, version=runtime.manifest["version"])
    ran = list(sdk.stand_ins)
    built = []
    for part in plan.apps:
        ran += linkplan.run(part)
        built.append((app_name(part.name), part.outputs["exe"]))
    stand_in.record(work, ran)
    return built


def relocate(built: Path, final: Path) -> None:
    """The app set was built beside its final place: its response files (the record of each ILC and
    link command) name the files where they will be after the swap. The binaries hold no such path
    (the rpath is $ORIGIN-relative)."""
    for rsp in sorted((built / OUT).rglob("*.rsp")):
        text = rsp.read_text(encoding="utf-8")
        if str(built) in text:
            atomic_write_text(rsp, text.replace(str(built), str(final)))


def stand_ins(app_set_root: Path) -> list[str]:
    """The stand-ins behind an app set's C# apps (empty when none, or when it has none)."""
    return stand_in.recorded(app_set_root / OUT)
