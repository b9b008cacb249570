"""Build the reference runtime: a C library with Runtime.Base's export surface.

The steps mirror the fork's Linux link: exports from the one export list as a version script,
build-id, then symbols split with objcopy as upstream does.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

from .. import cache, exports
from ..binaries import read_binary
from ..errors import CiError, InputError
from ..gitinfo import source_info
from ..platforms import Platform
from ..tools import run_tool, tool_version
from .output import BuildOutput

SOURCE_DIR = exports.REPO_ROOT / "reference" / "runtime"
STAMP = ".inputs.sha256"

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
        *platform.cc, *COMMON_CFLAGS, *optimize,
        # Reproducible debug info whatever the clone path: paths recorded relative to the source.
        f"-ffile-prefix-map={source_dir}=.",
        "-DRUNTIME_BASE_BUILDING", f'-DRUNTIME_BASE_VERSION="{version}"', "-Iinclude",
    ]


def build(platform: Platform, out: Path, configuration: str = "Release", source_dir: Path = SOURCE_DIR) -> tuple[BuildOutput, bool]:
    """Build into `out`; returns the output and whether anything was rebuilt."""
    out = out.resolve()
    version = read_version(source_dir)
    flags = _cflags(platform, configuration, source_dir, version)
    library = f"lib/{platform.library_name}"
    source = source_info("reference", source_dir)
    key = cache.digest(_inputs(source_dir), [flags, tool_version(platform.cc[0]), platform.rid, asdict(source)])
    if cache.is_fresh(out / STAMP, key, [out / "build.json"]):
        return BuildOutput.read(out), False

    if out.exists():
        shutil.rmtree(out)
    (out / "obj").mkdir(parents=True)
    (out / "lib").mkdir()
    listed = exports.read_exports()
    script = out / "obj" / "exports.map"
    script.write_text(exports.version_script(listed))

    objects = []
    for c_file in sorted((source_dir / "src").glob("*.c")):
        obj = out / "obj" / (c_file.stem + ".o")
        run_tool([*flags, "-c", c_file.relative_to(source_dir), "-o", obj], cwd=source_dir)
        objects.append(obj)
    lib_path = out / library
    run_tool([
        *platform.cc, "-shared", "-o", lib_path, *objects, "-pthread",
        f"-Wl,--version-script={script}", f"-Wl,-soname,{platform.library_name}",
        "-Wl,--build-id=sha1", "-Wl,--as-needed", "-Wl,-z,relro", "-Wl,-z,now", "-Wl,--eh-frame-hdr", "-ldl",
    ])
    debug = split_symbols(platform, lib_path)
    _check_exports(lib_path, listed)

    include = []
    for header in sorted((source_dir / "include").glob("*.h")):
        (out / "include").mkdir(exist_ok=True)
        shutil.copyfile(header, out / "include" / header.name)
        include.append(f"include/{header.name}")
    shutil.rmtree(out / "obj")
    result = BuildOutput(
        root=out, name="Runtime.Base", version=version, rid=platform.rid, configuration=configuration,
        source=source, library=library, link=(library,),
        include=tuple(include), debug=(debug.relative_to(out).as_posix(),),
    )
    result.write()
    cache.mark_fresh(out / STAMP, key)
    return result, True


def split_symbols(platform: Platform, library: Path) -> Path:
    """Upstream's split: keep-debug copy, strip the shipped file, link the two by debuglink."""
    debug = library.with_name(library.name + ".dbg")
    run_tool([platform.objcopy, "--only-keep-debug", library.name, debug.name], cwd=library.parent)
    run_tool([platform.objcopy, "--strip-debug", "--strip-unneeded", library.name], cwd=library.parent)
    run_tool([platform.objcopy, f"--add-gnu-debuglink={debug.name}", library.name], cwd=library.parent)
    return debug


def _check_exports(library: Path, listed: tuple[exports.Export, ...]) -> None:
    """The built library must export exactly the listed names, data as data."""
    built = {s.name: s.kind for s in read_binary(library).exports}
    wanted = {e.name: "data" if e.data else "function" for e in listed}
    missing = sorted(set(wanted) - set(built))
    extra = sorted(set(built) - set(wanted))
    wrong = sorted(n for n in set(wanted) & set(built) if wanted[n] != built[n])
    if missing or extra or wrong:
        parts = [f"{label}: {', '.join(names[:8])}" for label, names in
                 (("missing", missing), ("unexpected", extra), ("wrong kind", wrong)) if names]
        raise CiError(f"{library}: exports differ from {exports.EXPORT_LIST.name} ({'; '.join(parts)})")
