"""Build the reference runtime: a C library with Runtime.Base's export surface.

The steps mirror the fork's Linux link: exports from the one export list as a version script,
build-id, then symbols split with objcopy as upstream does.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict
from pathlib import Path

from .. import cache, exports
from ..epoch import source_date_epoch
from ..errors import CiError, InputError
from ..fsutil import fresh_output_dir
from ..gitinfo import source_info
from ..platforms import Platform
from ..tools import run_tool
from .output import BuildOutput

SOURCE_DIR = exports.REPO_ROOT / "reference" / "runtime"

CONFIGURATIONS = {
    "Debug": ("-O0", "-g"),
    "Release": ("-O2", "-g"),
}
COMMON_CFLAGS = ("-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-fvisibility=hidden", "-pthread")


def read_version(source_dir: Path = SOURCE_DIR) -> str:
    version_file = source_dir / "VERSION"
    try:
        version = version_file.read_text().strip()
    except OSError:
        raise InputError(version_file, "missing: the reference runtime needs a VERSION file") from None
    if not version or any(c.isspace() or c in "/\\" for c in version):
        raise InputError(version_file, f"invalid version {version!r}")
    return version


def describe(source_dir: Path = SOURCE_DIR) -> str:
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


def build(platform: Platform, out: Path, configuration: str = "Release", source_dir: Path = SOURCE_DIR) -> tuple[BuildOutput, bool]:
    """Build into `out`; returns the output and whether anything was rebuilt."""
    out = out.resolve()
    version = read_version(source_dir)
    flags = _cflags(platform, configuration, source_dir, version)
    source = source_info("reference", source_dir)
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
    linked = platform.toolchain.link_runtime(objects, out / "lib", listed, epoch)
    exports.check_library(linked.library, listed)

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
        include=tuple(include), debug=tuple(map(rel, linked.debug)),
    )
    result.write()
    cache.mark_fresh(out / cache.STAMP, key)
    return result, True
