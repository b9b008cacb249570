"""Static DT_NEEDED resolution: $ORIGIN, RUNPATH over RPATH, incompatible files skipped."""

from __future__ import annotations

import dataclasses
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ci.binaries import Binary, read_binary
from ci.binaries.resolve import find_needed

EM_AARCH64 = 183


def _run(*cmd: str, cwd: Path) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stderr}"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/app and bin/app-braces (RUNPATH $ORIGIN/../lib, ${ORIGIN}/../lib), lib/libdep.so."""
    root = tmp_path_factory.mktemp("resolve")
    (root / "bin").mkdir()
    (root / "lib").mkdir()
    (root / "dep.c").write_text("int dep(void) { return 1; }\n")
    (root / "app.c").write_text("int dep(void);\nint main(void) { return dep(); }\n")
    _run("gcc", "-shared", "-fPIC", "-o", "lib/libdep.so", "-Wl,-soname,libdep.so", "dep.c", cwd=root)
    for name, origin in (("app", "$ORIGIN"), ("app-braces", "${ORIGIN}")):
        _run("gcc", "-o", f"bin/{name}", "app.c", "-Llib", "-ldep", f"-Wl,-rpath,{origin}/../lib", cwd=root)
    return root


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


def _patched(source: Path, target: Path, offset: int, value: bytes) -> Path:
    """A copy of `source` with header bytes at `offset` replaced."""
    data = bytearray(_copy(source, target).read_bytes())
    data[offset : offset + len(value)] = value
    target.write_bytes(data)
    return target


def _app(tree: Path, **changes: tuple[str, ...]) -> Binary:
    return dataclasses.replace(read_binary(tree / "bin" / "app"), **changes)


@pytest.mark.parametrize("name", ["app", "app-braces"])
def test_origin_runpath(tree: Path, name: str) -> None:
    app = read_binary(tree / "bin" / name)
    assert app.runpath and app.rpath == ()
    found = find_needed(app, "libdep.so", [])
    assert found is not None and found.resolve() == (tree / "lib" / "libdep.so").resolve()


def test_rpath_is_ignored_when_runpath_is_present(tree: Path, tmp_path: Path) -> None:
    rpath_dir, runpath_dir = tmp_path / "rpath", tmp_path / "runpath"
    for directory in (rpath_dir, runpath_dir):
        _copy(tree / "lib" / "libdep.so", directory / "libdep.so")
    both = _app(tree, rpath=(str(rpath_dir),), runpath=(str(runpath_dir),))
    assert find_needed(both, "libdep.so", []) == runpath_dir / "libdep.so"
    rpath_only = _app(tree, rpath=(str(rpath_dir),), runpath=())
    assert find_needed(rpath_only, "libdep.so", [runpath_dir]) == rpath_dir / "libdep.so"


def test_incompatible_candidates_are_skipped(tree: Path, tmp_path: Path) -> None:
    good = tree / "lib" / "libdep.so"
    arm = _patched(good, tmp_path / "arm" / "libdep.so", 18, struct.pack("<H", EM_AARCH64))
    elf32 = _patched(good, tmp_path / "elf32" / "libdep.so", 4, b"\x01")
    big_endian = _patched(good, tmp_path / "be" / "libdep.so", 5, b"\x02")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "libdep.so").write_text("INPUT(-ldep)\n")  # a linker script, not a library
    (tmp_path / "dir" / "libdep.so").mkdir(parents=True)
    skipped = [arm.parent, elf32.parent, big_endian.parent, tmp_path / "text", tmp_path / "dir", tmp_path / "none"]
    app = _app(tree, runpath=tuple(map(str, skipped)))
    assert find_needed(app, "libdep.so", [good.parent]) == good.parent / "libdep.so"


def test_default_dirs_come_after_runpath(tree: Path, tmp_path: Path) -> None:
    other = _copy(tree / "lib" / "libdep.so", tmp_path / "libdep.so")
    app = read_binary(tree / "bin" / "app")
    found = find_needed(app, "libdep.so", [tmp_path])
    assert found is not None and found != other


def test_not_found(tree: Path, tmp_path: Path) -> None:
    app = read_binary(tree / "bin" / "app")
    assert find_needed(app, "libmissing.so", [tmp_path]) is None


def test_name_with_a_slash_is_a_path(tree: Path) -> None:
    app = _app(tree, runpath=())
    library = tree / "lib" / "libdep.so"
    assert find_needed(app, str(library), []) == library
    assert find_needed(app, str(tree / "dep.c"), []) is None
