"""Runtime.Base built from the fork: check the checkout, run its build (cached), link Runtime.Base
by the link plan, into the same BuildOutput the reference runtime produces."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from ci.core import cache
from ci.core.errors import CiError, InputError
from ci.core.fs import fresh_output_dir
from ci.platforms import Platform
from ci.runtime import exports
from ci.runtime.fork import driver, linkplan, stand_in
from ci.runtime.fork.checkout import check_checkout, require_linux_split
from ci.runtime.fork.layout import ForkLayout, require
from ci.runtime.output import BUILD_INFO, DEFAULT_LIBRARIES_CONFIGURATION, BuildOutput, Source, static_input

#: The app-side products (ILC, reference assemblies, aotsdk), staged in the build output for the SDK package.
SDK_DIR = "sdk"


@dataclass(frozen=True)
class ForkOptions:
    libraries_configuration: str = DEFAULT_LIBRARIES_CONFIGURATION
    force: bool = False  # rebuild even when the build cache key matches the last success
    timeout: float | None = None  # seconds for the fork's build
    rootfs: Path | None = None  # cross builds: the target's root file system
    image: str | None = None  # the build container's image id, part of the cache key
    wrap: driver.Wrap | None = None  # the container door's hook around the build command
    watch: driver.Watch | None = None
    vswhere: Path | None = None
    windows_kits: Path | None = None


def version(checkout: Path, commit: str | None) -> str:
    """<Major>.<Minor>.<Patch> from eng/Versions.props, marked as a fork build of `commit`."""
    return ".".join(map(str, linkplan.version_numbers(checkout))) + f"-fork.{commit[:12] if commit else 'local'}"


def check_ilc_exports(ilc_exports: Path) -> None:
    """ILC's exports file names exactly the export list: the runtime exports nothing unlisted."""
    try:
        named = exports.exported_names(ilc_exports.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        raise InputError(ilc_exports, "missing: ILC did not write its exports file") from None
    listed = {e.name for e in exports.read_exports()}
    if named != listed:
        gaps = [f"{label}: {', '.join(sorted(names)[:8])}" for label, names in
                (("missing", listed - named), ("unlisted", named - listed)) if names]
        raise CiError(f"{ilc_exports}: ILC's exports differ from {exports.EXPORT_LIST.name} ({'; '.join(gaps)})")


def to_build_output(out: Path, part: linkplan.Part, checkout: Path, platform: Platform, configuration: str) -> BuildOutput:
    """A finished link as the build output contract: library, link input, debug symbols."""
    source = Source.of("fork", checkout)

    def rel(role: str) -> str:
        return part.outputs[role].relative_to(out).as_posix()

    text = version(checkout, source.commit)
    return BuildOutput(root=out, name="Runtime.Base", version=text, rid=platform.rid,
                       configuration=configuration, source=source, library=rel("library"), link=(rel("link"),),
                       extra=tuple(rel(role) for role in ("soname",) if role in part.outputs),
                       debug=(rel("debug"),), toolchain=(f"{part.inputs[0].path.name} (from the fork's build) {text}",))


def _compiled_in(part: linkplan.Part) -> tuple[dict, ...]:
    """After ILC (the first input): the IL it compiles and the AOT SDK libraries linked in (for the SBOM)."""
    return tuple(static_input(p.path, "library" if p.path.suffix in (".a", ".lib") else "object")
                 for p in part.inputs[1:])


def cache_paths(request: driver.BuildRequest) -> list[Path]:
    """What a rerun at the same build cache key needs instead of the fork's build: the folders of
    the products the Runtime.Base link and the SDK package take, and the stamp naming the key."""
    layout = ForkLayout(request.checkout, request.platform, request.configuration, request.libraries_configuration)
    part = linkplan.make_plan(layout, linkplan.Toolset(linker="unused"), request.checkout / "unused").runtime
    products = [*part.inputs, *linkplan.sdk_files(layout).values()]
    built = [p for p in products if (request.checkout / driver.ARTIFACTS) in p.path.parents]  # not its sources
    folders = {layout.framework.path, *(p.path.parent for p in built if p != layout.framework)}
    outermost = [f for f in sorted(folders) if not any(other in f.parents for other in folders)]
    return [*outermost, driver.stamp_path(request)]


def build_runtime_base(checkout: Path, platform: Platform, out: Path, configuration: str,
          options: ForkOptions = ForkOptions()) -> tuple[BuildOutput, bool]:
    """Check, build the fork (cached), link Runtime.Base from the plan; returns the output and whether anything ran."""
    checkout, out = check_checkout(checkout), out.resolve()
    if platform.os == "linux":
        require_linux_split(checkout, platform)
    # Found before the hour-long build, so a missing linker fails now.
    tools = linkplan.find_tools(platform, options.rootfs, options.vswhere, options.windows_kits)
    layout = ForkLayout(checkout, platform, configuration, options.libraries_configuration)
    part = linkplan.make_plan(layout, tools, out).runtime
    request = driver.BuildRequest(checkout, platform, configuration, options.libraries_configuration,
                                      options.rootfs, options.image)
    sdk = linkplan.sdk_files(layout)
    products = [*part.inputs, *sdk.values()]
    built = driver.run_fork_build(request, [p.path for p in products], options.force, options.timeout, options.wrap,
                                  options.watch)
    sdk = linkplan.sdk_files(layout)  # again: the build made the framework and ILC folders' files
    require([*part.inputs, *sdk.values()], checkout)

    files = ({str(p.path): p.path for p in part.inputs} | {f"sdk/{rel}": p.path for rel, p in sdk.items()}
             | {"linkplan": linkplan.LINKPLAN, "exports": exports.EXPORT_LIST})
    key = cache.digest(files, [sorted(map(str, part.steps)), sorted(part.files.values())])
    if not built and cache.is_fresh(out / cache.STAMP, key, [out / BUILD_INFO]):
        return BuildOutput.read(out), False
    fresh_output_dir(out, BUILD_INFO, cache.STAMP)
    stand_ins = [*driver.stand_ins(request), *linkplan.run(part)]
    check_ilc_exports(part.outputs["ilc_exports"])
    exports.check_library(part.outputs["library"], exports.read_exports(),  # as for the reference runtime
                          linkplan.version_numbers(checkout)[0])
    for rel, product in sdk.items():  # beside the build output, for the package stage's SDK archive
        (out / SDK_DIR / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(product.path, out / SDK_DIR / rel)
    stand_in.record(out, stand_ins)
    result = replace(to_build_output(out, part, checkout, platform, configuration), static_inputs=_compiled_in(part))
    result.write()
    cache.mark_fresh(out / cache.STAMP, key)
    return result, True
