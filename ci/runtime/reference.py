"""Build the reference runtime: a C library with Runtime.Base's export surface.

The steps mirror the fork's Linux link: exports from the one export list as a version script,
build-id, then symbols split with objcopy as upstream does.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict
from pathlib import Path

from ci.core import cache
from ci.core.epoch import source_date_epoch
from ci.core.errors import CiError, InputError
from ci.core.fs import fresh_output_dir
from ci.core.proc import run_tool
from ci.core.resources import source_tree
from ci.platforms import Platform
from ci.platforms.toolchains import ClangCoff
from ci.runtime import exports, versioning
from ci.runtime.output import BuildOutput, Source, static_input

CONFIGURATIONS = {
    "Debug": ("-O0", "-g"),
    "Release": ("-O2", "-g"),
    "Checked": ("-O1", "-g"),  # the fork's third configuration: optimised, assertions kept
}
COMMON_CFLAGS = ("-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-fvisibility=hidden", "-pthread")


def default_source_dir() -> Path:
    """The reference runtime's C sources."""
    return source_tree("reference") / "runtime"


def read_version(source_dir: Path) -> str:
    version_file = source_dir / "VERSION"
    try:
        version = version_file.read_text().strip()
    except OSError:
        raise InputError(version_file, "missing: the reference runtime needs a VERSION file") from None
    if not version or any(c.isspace() or c in "/\\" for c in version):
        raise InputError(version_file, f"invalid version {version!r}")
    return version


def describe(source_dir: Path | None = None) -> str:
    source_dir = source_dir or default_source_dir()
    return f"reference runtime {read_version(source_dir)} from {source_dir}"


def _inputs(source_dir: Path) -> dict[str, Path]:
    files = {p.relative_to(source_dir).as_posix(): p for p in source_dir.rglob("*") if p.is_file()}
    return {**files, "exports": exports.EXPORT_LIST}


def _cflags(platform: Platform, configuration: str, source_dir: Path, version: str) -> list[str]:
    try:
        optimize = CONFIGURATIONS[configuration]
    except KeyError:
        raise CiError(f"unknown configuration {configuration!r}; known: {', '.join(CONFIGURATIONS)}") from None
    return [
        *platform.toolchain.cc, *COMMON_CFLAGS, *platform.toolchain.runtime_cflags(), *optimize,
        # Reproducible debug info whatever the clone path: paths recorded relative to the source.
        *platform.toolchain.path_independent(source_dir),
        "-DRUNTIME_BASE_BUILDING", f'-DRUNTIME_BASE_VERSION="{version}"', "-Iinclude",
    ]


def _static_inputs(platform: Platform, source_dir: Path) -> tuple[dict, ...]:
    """What the library is made of besides system DLLs/shared objects: our sources, compiled into it,
    and the compiler's support library linked in statically (libgcc, or reference/winrt for lld-link)."""
    sources = [static_input(p, "source", p.relative_to(source_dir).as_posix())
               for p in sorted((*(source_dir / "src").iterdir(), *(source_dir / "include").iterdir())) if p.is_file()]
    if isinstance(platform.toolchain, ClangCoff):
        support = platform.toolchain.support() / "winrt.lib"
    else:
        support = Path(run_tool([*platform.toolchain.cc, "-print-libgcc-file-name"]).strip())
    return (*sources, static_input(support, "library"))


def build_reference_runtime(platform: Platform, out: Path, configuration: str, source_dir: Path | None = None) -> tuple[BuildOutput, bool]:
    """Build into `out`; returns the output and whether anything was rebuilt."""
    out = out.resolve()
    source_dir = source_dir or default_source_dir()
    version = read_version(source_dir)
    flags = _cflags(platform, configuration, source_dir, version)
    source = Source.of("reference", source_dir)
    key = cache.digest(_inputs(source_dir), [flags, platform.toolchain.identity(), platform.rid, asdict(source),
                                              os.environ.get("SOURCE_DATE_EPOCH")])
    if cache.is_fresh(out / cache.STAMP, key, [out / "build.json"]):
        return BuildOutput.read(out), False

    fresh_output_dir(out, "build.json", cache.STAMP)
    (out / "obj").mkdir()
    (out / "lib").mkdir()
    objects = []
    for c_file in sorted((source_dir / "src").glob("*.c")):
        obj = out / "obj" / (c_file.stem + ".o")
        run_tool([*flags, "-c", c_file.relative_to(source_dir), "-o", obj], cwd=source_dir)
        objects.append(obj)
    listed = exports.read_exports()
    epoch = source_date_epoch(source.date_epoch, str(source_dir))
    parsed = versioning.Version.parse(version)
    resource = out / "obj" / "version.rc"
    resource.write_text(versioning.version_resource(parsed, platform.toolchain.library_name,
                                                    "Runtime.Base, the shared NativeAOT runtime"))
    toolchain = platform.toolchain
    exports_file = exports.write_exports_file(listed, toolchain.exports_format, toolchain.library_name, out / "obj",
                                              parsed.major, parsed.minor)
    linked = toolchain.link_runtime(objects, out / "lib", exports_file, epoch,
                                    (parsed.major, parsed.minor, parsed.patch), resource)
    exports.check_library(linked.library, listed, parsed.major)

    include = []
    for header in sorted((source_dir / "include").glob("*.h")):
        (out / "include").mkdir(exist_ok=True)
        shutil.copyfile(header, out / "include" / header.name)
        include.append(f"include/{header.name}")
    shutil.rmtree(out / "obj")

    def rel(path: Path) -> str:
        return path.relative_to(out).as_posix()

    result = BuildOutput(
        root=out, name="Runtime.Base", version=version, rid=platform.rid, configuration=configuration,
        source=source, library=rel(linked.library), link=tuple(map(rel, linked.link)),
        include=tuple(include), debug=tuple(map(rel, linked.debug)), extra=tuple(map(rel, linked.extra)),
        toolchain=tuple(platform.toolchain.versions()), static_inputs=_static_inputs(platform, source_dir),
    )
    result.write()
    cache.mark_fresh(out / cache.STAMP, key)
    return result, True


def build_static_runtime(platform: Platform, out: Path, configuration: str,
                         source_dir: Path | None = None) -> tuple[Path, bool]:
    """The same sources as a static library, for self-contained apps (stock NativeAOT's way):
    RUNTIME_BASE_STATIC hides every export and lifts the one-copy-per-process rule, so each app or
    plugin that links it owns a private runtime. Writes out/lib/<archive> and out/include; returns
    the archive and whether it was rebuilt."""
    out = out.resolve()
    source_dir = source_dir or default_source_dir()
    flags = [*_cflags(platform, configuration, source_dir, read_version(source_dir)), "-DRUNTIME_BASE_STATIC"]
    library = out / "lib" / platform.toolchain.static_library_name
    key = cache.digest(_inputs(source_dir), [flags, platform.toolchain.identity(), platform.rid])
    if cache.is_fresh(out / cache.STAMP, key, [library]):
        return library, False
    fresh_output_dir(out, cache.STAMP)
    for sub in ("obj", "lib", "include"):
        (out / sub).mkdir()
    objects = [out / "obj" / f"{c.stem}.o" for c in sorted((source_dir / "src").glob("*.c"))]
    for obj in objects:
        run_tool([*flags, "-c", f"src/{obj.stem}.c", "-o", obj], cwd=source_dir)
    platform.toolchain.archive(objects, library)
    for header in (source_dir / "include").glob("*.h"):
        shutil.copyfile(header, out / "include" / header.name)
    shutil.rmtree(out / "obj")
    cache.mark_fresh(out / cache.STAMP, key)
    return library, True
