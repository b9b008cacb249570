"""`python -m ci images | container-run | crosscheck`: the container commands, and the
host-versus-container comparison that proves a package has the same bytes wherever it is built."""

from __future__ import annotations

import argparse
import difflib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import archive, platforms
from .errors import CiError
from .exports import REPO_ROOT
from .images import TARGETS
from .platforms import Platform
from .report import console

STRING_SECTIONS = {".comment", ".debug_str", ".debug_line_str", ".dynstr", ".strtab"}
PACKAGE_CHECKS = ["--check", "verify"]  # crosscheck compares packages; share needs no second run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("images", help="make the container images: Debian base and wheelhouse without a registry")
    p.add_argument("--platform", action="append", help="linux rid (repeatable) or 'all'; default: this machine's")
    p.add_argument("--target", choices=TARGETS, action="append", help="Dockerfile target (repeatable); default: reference")
    p.add_argument("--base-image", help="build on this image instead of the bootstrapped Debian")
    p.set_defaults(func=cmd_images)

    p = sub.add_parser("container-run", help="run a nox session in the platform's container: container-run package -- ARGS")
    p.add_argument("--platform", help="linux rid; default: this machine's")
    p.add_argument("--target", choices=TARGETS, default="reference")
    p.add_argument("--base-image", help="build on this image instead of the bootstrapped Debian")
    p.add_argument("--dist", default="dist", help="where the container's dist/ is copied")
    p.add_argument("session")
    p.add_argument("args", nargs=argparse.REMAINDER, help="passed to the session after `--`")
    p.set_defaults(func=cmd_container_run)

    p = sub.add_parser("crosscheck", help="package on this machine and in the container; the bytes must match")
    p.add_argument("--platform", action="append", help="linux rid (repeatable) or 'all'; default: this machine's")
    p.add_argument("--work", default="build/crosscheck", help="where both builds and crosscheck.json go, per rid")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_crosscheck)


def _linux(rids: list[str] | None) -> list[Platform]:
    """The platforms named; of 'all', those with Linux containers (naming a Windows one is an error later)."""
    selected = platforms.select(rids)
    return [p for p in selected if p.os == "linux"] if rids and "all" in rids else selected


def cmd_images(args: argparse.Namespace) -> int:
    from .container import ensure_image, image_size

    for platform in _linux(args.platform):
        for target in args.target or ["reference"]:
            started = time.perf_counter()
            image = ensure_image(platform, target, args.base_image)
            console.print(f"{'built' if image.built else 'up to date'}: {image.tag} "
                          f"({image_size(image.tag) / 2**20:.0f} MiB, {time.perf_counter() - started:.1f}s)")
    return 0


def cmd_container_run(args: argparse.Namespace) -> int:
    from .container import run_session

    platform = platforms.get_platform(args.platform or platforms.host_rid())
    return run_session(platform, args.session, args.args, dist=Path(args.dist), target=args.target, base=args.base_image)


def cmd_crosscheck(args: argparse.Namespace) -> int:
    results = [crosscheck(p, Path(args.work) / p.rid) for p in _linux(args.platform)]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            console.print(f"{result['rid']}: {'identical' if result['identical'] else 'DIFFERENT'} "
                          f"(host: {result['host']}, container: {result['container']})", markup=False)
            for line in _explanation(result):
                console.print(f"  {line}", markup=False, soft_wrap=True)
    return 0 if all(r["identical"] for r in results) else 1


# --- the comparison -------------------------------------------------------------------------


def crosscheck(platform: Platform, work: Path) -> dict:
    """Package `platform` from one snapshot of the repository twice, on this machine (linux-arm64:
    cross-compiled) and in its container (linux-arm64: native, emulated), and compare the files."""
    from .container import run_session

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = _unpacked_snapshot(work)
    host, boxed = work / "host", work / "container"
    _host_package(platform, source, host)
    code = run_session(platform, "package", ["--platform", platform.rid, *PACKAGE_CHECKS], repo=source, dist=boxed)
    if code != 0:
        raise CiError(f"nox -s package failed in the {platform.rid} container (exit {code}); see its log above")
    result = {"rid": platform.rid, "host": str(host), "container": str(boxed), **compare_dists(host, boxed, work / "diff")}
    (work / "crosscheck.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _unpacked_snapshot(work: Path) -> Path:
    """What goes into the container, unpacked for the host build: both build the same files."""
    from .container import write_snapshot

    tar = work / "src.tar"
    with open(tar, "wb") as out:
        write_snapshot(REPO_ROOT, out)
    archive.safe_extract(tar, work / "src")
    tar.unlink()
    return work / "src"


def _host_package(platform: Platform, source: Path, dist: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ci", "pipeline", "--platform", platform.rid, *PACKAGE_CHECKS,
                           "--dist", str(dist)], cwd=source, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise CiError(f"packaging {platform.rid} on this machine failed (exit {done.returncode}): {' '.join(tail)}")


def compare_dists(host: Path, boxed: Path, notes: Path) -> dict:
    """Every package file of two dist/ directories, byte for byte; for those that differ, why."""
    names = sorted({p.name for d in (host, boxed) for p in d.iterdir() if _is_package_file(p)})
    if not names:
        raise CiError(f"{host}, {boxed}: no package files to compare")
    files = [_compare_file(host / name, boxed / name, notes) for name in names]
    return {"identical": all(f["identical"] for f in files), "files": files}


def _is_package_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.name != "report.json"  # times differ


def _compare_file(host: Path, boxed: Path, notes: Path) -> dict:
    from .package import ARCHIVE_SUFFIXES

    entry: dict = {"name": host.name, "identical": _same(host, boxed)}
    if entry["identical"]:
        return entry
    if host.name.endswith(ARCHIVE_SUFFIXES) and host.is_file() and boxed.is_file():
        entry["members"] = _compare_archives(host, boxed, notes / host.name)
        entry["diffoscope"] = _diffoscope(host, boxed, notes / f"{host.name}.diffoscope.txt")
    else:
        entry["why"] = _why(host, boxed)
    return entry


def _same(a: Path, b: Path) -> bool:
    return a.is_file() and b.is_file() and a.read_bytes() == b.read_bytes()


def _compare_archives(host: Path, boxed: Path, notes: Path) -> list[dict]:
    archive.safe_extract(host, notes / "host")
    archive.safe_extract(boxed, notes / "container")
    names = sorted({p.relative_to(notes / side).as_posix() for side in ("host", "container")
                    for p in (notes / side).rglob("*") if p.is_file()})
    return [{"path": name, "why": _why(notes / "host" / name, notes / "container" / name)}
            for name in names if not _same(notes / "host" / name, notes / "container" / name)]


def _why(host: Path, boxed: Path) -> list[str]:
    """ELF: the sections that differ, with the strings only one side has; text: the first diff lines."""
    if not boxed.is_file():
        return ["only on the host"]
    if not host.is_file():
        return ["only in the container"]
    sections = _sections(host), _sections(boxed)
    if sections[0] is None or sections[1] is None:
        diff = difflib.unified_diff(host.read_text(errors="replace").splitlines(),
                                    boxed.read_text(errors="replace").splitlines(), "host", "container", lineterm="", n=0)
        return list(diff)[2:14]
    return _section_diff(*sections)


def _sections(path: Path) -> dict[str, tuple[int, bytes]] | None:
    """Section name -> (size, content) of an ELF file; None for any other file."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        try:
            elf = ELFFile(f)
        except ELFError:
            return None
        return {s.name: (s["sh_size"], b"" if s["sh_type"] == "SHT_NOBITS" else s.data()) for s in elf.iter_sections()}


def _section_diff(host: dict[str, tuple[int, bytes]], boxed: dict[str, tuple[int, bytes]]) -> list[str]:
    lines = []
    for name in sorted(set(host) | set(boxed)):
        if name not in boxed or name not in host:
            lines.append(f"section {name} only {'on the host' if name in host else 'in the container'}")
        elif host[name] != boxed[name]:
            lines.append(f"section {name}: {host[name][0]} vs {boxed[name][0]} bytes"
                         + (_string_changes(host[name][1], boxed[name][1]) if name in STRING_SECTIONS else ""))
    return lines


def _string_changes(host: bytes, boxed: bytes) -> str:
    """The strings each side has alone: compiler versions, include directories."""
    ours, theirs = set(host.split(b"\0")), set(boxed.split(b"\0"))
    return "".join(f"; {side} only: {_shown(strings)}" for side, strings in
                   (("host", ours - theirs), ("container", theirs - ours)) if strings)


def _shown(strings: set[bytes], most: int = 3) -> str:
    shown = [repr(s.decode(errors="replace")) for s in sorted(strings)[:most]]
    return ", ".join(shown) + (f" (+{len(strings) - most} more)" if len(strings) > most else "")


def _diffoscope(host: Path, boxed: Path, out: Path) -> str | None:
    """diffoscope's full report when it is installed (apt-get install diffoscope-minimal)."""
    if not shutil.which("diffoscope"):
        return None
    subprocess.run(["diffoscope", "--text", str(out), str(host), str(boxed)], capture_output=True, check=False)
    return str(out)


def _explanation(result: dict) -> list[str]:
    lines = []
    for entry in result["files"]:
        if entry["identical"]:
            continue
        lines.append(f"{entry['name']} differs" + (f" (diffoscope: {entry['diffoscope']})" if entry.get("diffoscope") else ""))
        for member in entry.get("members", []):
            lines += [f"  {member['path']}:", *(f"    {why}" for why in member["why"])]
        lines += [f"  {why}" for why in entry.get("why", [])]
    return lines
