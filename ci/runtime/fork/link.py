"""Runtime.Base built from the fork: check the checkout, run its build (cached), link Runtime.Base
by the link plan, into the same BuildOutput the reference runtime produces."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from ci.core import cache
from ci.core.errors import CiError, InputError
from ci.core.fs import fresh_output_dir
from ci.platforms import Platform
from ci.runtime import exports
from ci.runtime.fork import driver, linkplan
from ci.runtime.fork.checkout import check_checkout, require_linux_split
from ci.runtime.fork.layout import VERSIONS, ForkLayout, require
from ci.runtime.output import BUILD_INFO, DEFAULT_LIBRARIES_CONFIGURATION, BuildOutput, Source, static_input

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
    props = checkout / VERSIONS
    text = props.read_text(encoding="utf-8", errors="replace") if props.is_file() else ""
    parts = [re.search(rf"<{tag}>(\d+)</{tag}>", text) for tag in ("MajorVersion", "MinorVersion", "PatchVersion")]
    if not all(parts):
        raise InputError(props, "no MajorVersion, MinorVersion and PatchVersion")
    return ".".join(m[1] for m in parts) + f"-fork.{commit[:12] if commit else 'local'}"


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
                       debug=(rel("debug"),), toolchain=(f"{part.inputs[0].path.name} (from the fork's build) {text}",))


def _compiled_in(part: linkplan.Part) -> tuple[dict, ...]:
    """After ILC (the first input): the IL it compiles and the AOT SDK libraries linked in (for the SBOM)."""
    return tuple(static_input(p.path, "library" if p.path.suffix in (".a", ".lib") else "object")
                 for p in part.inputs[1:])


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
    inputs = [p.path for p in part.inputs]
    built = driver.run_fork_build(request, inputs, options.force, options.timeout, options.wrap, options.watch)
    require(list(part.inputs), checkout)

    files = {str(path): path for path in inputs} | {"linkplan": linkplan.LINKPLAN, "exports": exports.EXPORT_LIST}
    key = cache.digest(files, [sorted(map(str, part.steps)), sorted(part.files.values())])
    if not built and cache.is_fresh(out / cache.STAMP, key, [out / BUILD_INFO]):
        return BuildOutput.read(out), False
    fresh_output_dir(out, BUILD_INFO, cache.STAMP)
    linkplan.run(part)
    check_ilc_exports(part.outputs["ilc_exports"])
    exports.check_library(part.outputs["library"], exports.read_exports())  # as for the reference runtime
    result = replace(to_build_output(out, part, checkout, platform, configuration), static_inputs=_compiled_in(part))
    result.write()
    cache.mark_fresh(out / cache.STAMP, key)
    return result, True
