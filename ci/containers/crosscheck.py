"""Package on this machine and in the platform's container from one snapshot, and compare the
bytes: a package must be the same wherever it is built, and when it is not, say which file and
section differ and why."""

from __future__ import annotations

import difflib
import json
import shutil
import sys
from pathlib import Path

from ci.core.errors import CiError
from ci.core.proc import run
from ci.core.resources import checkout_root
from ci.platforms import Platform
from ci.redist import archive

STRING_SECTIONS = {".comment", ".debug_str", ".debug_line_str", ".dynstr", ".strtab"}
PACKAGE_CHECKS = ["--check", "verify"]  # crosscheck compares packages; share needs no second run


def crosscheck(platform: Platform, work: Path) -> dict:
    """Package `platform` from one snapshot of the repository twice, on this machine (linux-arm64:
    cross-compiled) and in its container (linux-arm64: native, emulated), and compare the files."""
    from ci.containers.engine import run_session

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
    from ci.containers.engine import write_snapshot

    tar = work / "src.tar"
    with open(tar, "wb") as out:
        write_snapshot(checkout_root(), out)
    archive.safe_extract(tar, work / "src")
    tar.unlink()
    return work / "src"


def _host_package(platform: Platform, source: Path, dist: Path) -> None:
    done = run([sys.executable, "-m", "ci", "pipeline", "--platform", platform.rid, *PACKAGE_CHECKS,
                "--dist", str(dist)], cwd=source)
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
    from ci.redist.dist import ARCHIVE_SUFFIXES

    entry: dict = {"name": host.name, "identical": _same(host, boxed)}
    if entry["identical"]:
        return entry
    if host.name.endswith(ARCHIVE_SUFFIXES) and host.is_file() and boxed.is_file():
        entry["members"] = _compare_archives(host, boxed, notes / host.name)
        entry["deflate"] = {"host": _deflate(host.parent), "container": _deflate(boxed.parent)}
        entry["diffoscope"] = _diffoscope(host, boxed, notes / f"{host.name}.diffoscope.txt")
    else:
        entry["why"] = _why(host, boxed)
    return entry


def _deflate(dist: Path) -> str:
    """Which deflate wrote a dist's archives (its manifests say): another zlib build gives other bytes."""
    for path in sorted(dist.glob("*.manifest.json")):
        if found := json.loads(path.read_text()).get("compression"):
            return f"{found['library']} {found['version']} level {found['level']}"
    return "not recorded"


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
    host_sections, boxed_sections = _sections(host), _sections(boxed)
    if host_sections is None or boxed_sections is None:
        diff = difflib.unified_diff(host.read_text(errors="replace").splitlines(),
                                    boxed.read_text(errors="replace").splitlines(), "host", "container", lineterm="", n=0)
        return list(diff)[2:14]
    return _section_diff(host_sections, boxed_sections)


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
    run(["diffoscope", "--text", str(out), str(host), str(boxed)])
    return str(out)


def explanation(result: dict) -> list[str]:
    lines = []
    for entry in result["files"]:
        if entry["identical"]:
            continue
        lines.append(f"{entry['name']} differs" + (f" (diffoscope: {entry['diffoscope']})" if entry.get("diffoscope") else ""))
        if deflate := entry.get("deflate"):
            same = deflate["host"] == deflate["container"]
            lines.append(f"  deflate: host {deflate['host']}, container {deflate['container']}"
                         + ("" if same else " (different implementations: expect different bytes)"))
        for member in entry.get("members", []):
            lines += [f"  {member['path']}:", *(f"    {why}" for why in member["why"])]
        lines += [f"  {why}" for why in entry.get("why", [])]
    return lines
