"""A user runs the whole pipeline: every stage passes, a rerun does nothing, outputs hold together."""

from __future__ import annotations

import json
import subprocess
import tarfile

from ci.binaries import read_binary
from ci.core import schemas
from ci.core.fs import sha256_file
from ci.runtime.exports import read_exports
from tests.conftest import run_ci

RID = "linux-x64"


def _report(pipeline: dict) -> dict:
    return schemas.load("report", pipeline["dist"] / "report.json")


def test_first_line_names_the_runtime_and_where_it_comes_from(pipeline):
    first = pipeline["output"].splitlines()[0]
    assert "reference runtime 10.0.0-ref.1" in first
    assert "reference/runtime" in first and RID in first


def test_every_stage_passes(pipeline):
    report = _report(pipeline)
    assert report["ok"]
    assert [(s["stage"], s["status"]) for s in report["stages"]] == [
        (name, "ok") for name in ("build", "package", "apps", "verify", "share")]
    assert {"x86_64-linux-gnu-gcc", "x86_64-linux-gnu-objcopy"} <= set(report["tool_seconds"])


def test_rerun_with_nothing_changed_rebuilds_nothing(pipeline):
    dist = pipeline["dist"]
    before = {p.name: (p.stat().st_mtime_ns, sha256_file(p)) for p in dist.iterdir() if p.is_file()}
    done = run_ci("pipeline", "--build-dir", pipeline["build"], "--dist", dist)
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = {s["stage"]: s["status"] for s in _report(pipeline)["stages"]}
    assert statuses == {"build": "up to date", "package": "up to date", "apps": "up to date",
                        "verify": "ok", "share": "ok"}
    after = {p.name: (p.stat().st_mtime_ns, sha256_file(p)) for p in dist.iterdir() if p.is_file()}
    assert {k: v for k, v in after.items() if k != "report.json"} == {k: v for k, v in before.items() if k != "report.json"}


def test_archive_holds_manifest_library_and_header(pipeline):
    archive = pipeline["dist"] / f"runtime-base-10.0.0-ref.1-{RID}.tar.gz"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert names[0] == "manifest.json" and names[1:] == sorted(names[1:])  # the manifest first: read before unpacking
    assert {"manifest.json", "lib/libRuntime.Base.so", "include/RuntimeBase.h"} <= set(names)
    schemas.validate("manifest", manifest, archive)
    assert manifest["rid"] == RID and manifest["source"]["kind"] == "reference"
    listed = {(e.name, "data" if e.data else "function") for e in read_exports()}
    assert {(e["name"], e["kind"]) for e in manifest["exports"]} == listed
    links = {link["path"] for link in manifest["links"]}  # the dev link, a symlink entry
    assert {f["path"] for f in manifest["files"]} == set(n for n in names if "." in n.rsplit("/", 1)[-1]) - {"manifest.json"} - links


def test_symbols_are_split_and_linked_by_debuglink(pipeline, tmp_path):
    dist = pipeline["dist"]
    with tarfile.open(dist / f"runtime-base-10.0.0-ref.1-{RID}-symbols.tar.gz") as tar:
        tar.extractall(tmp_path / "sym", filter="data")
    with tarfile.open(dist / f"runtime-base-10.0.0-ref.1-{RID}.tar.gz") as tar:
        tar.extractall(tmp_path / "pkg", filter="data")
    library = tmp_path / "pkg/lib/libRuntime.Base.so.10.0.0"
    debug = tmp_path / "sym/lib/libRuntime.Base.so.10.0.0.dbg"
    sections = subprocess.run(["readelf", "-S", "-W", library], capture_output=True, text=True, check=True).stdout
    assert ".gnu_debuglink" in sections and ".debug_info" not in sections
    debug_sections = subprocess.run(["readelf", "-S", "-W", debug], capture_output=True, text=True, check=True).stdout
    assert ".debug_info" in debug_sections
    assert read_binary(library).build_id == read_binary(debug).build_id is not None


def test_sha256sums_cover_every_archive(pipeline):
    dist = pipeline["dist"]
    done = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=dist, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    listed = {line.split()[1] for line in (dist / "SHA256SUMS").read_text().splitlines()}
    assert listed == {p.name for p in dist.iterdir() if p.name.endswith((".tar.gz", ".cdx.json", ".nupkg"))}


def test_share_report_shows_one_copy_and_saved_pss(pipeline):
    share = next(s for s in _report(pipeline)["stages"] if s["stage"] == "share")["details"]
    runtime = share["runtime"]
    assert len(share["processes"]) == 4
    for process in share["processes"]:
        assert process["copies"] == 1 and process["same_file"]
        assert process["report"]["runtime_path"] == runtime
        assert process["text_shared_clean_kib"] > 0 and process["text_shared_kib"] >= process["text_shared_clean_kib"]
    host = next(p for p in share["processes"] if p["app"] == "plugin_host")["report"]
    assert [p["instance"] for p in host["plugins"]] == [host["instance"]] * 2
    assert share["pss_saved_kib"] > 0


def test_model_agrees_with_readelf_on_every_built_binary(pipeline):
    from tests.readelf_view import model_view, readelf_view

    root = pipeline["build"] / RID
    binaries = [p for p in root.rglob("*") if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"]
    assert len(binaries) >= 8  # runtime + .dbg in the build, the unpacked runtime, 4 apps, 2 plugins
    for path in binaries:
        assert model_view(read_binary(path)) == readelf_view(path), path


def test_in_github_actions_stages_are_log_groups_and_the_table_goes_to_the_job_summary(pipeline, tmp_path):
    summary = tmp_path / "summary.md"
    done = run_ci("pipeline", "--build-dir", pipeline["build"], "--dist", pipeline["dist"],
                  env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 0, done.stderr
    assert "::group::build linux-x64" in done.stdout and "::endgroup::" in done.stdout
    table = summary.read_text()
    assert "| Stage | Platform | Status | Time | Result |" in table
    assert "| share | linux-x64 | ok |" in table


def test_a_failing_stage_fails_the_run_and_later_stages_do_not_run(pipeline, tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "SHA256SUMS").write_text("")
    done = run_ci("pipeline", "--from-dist", "--build-dir", tmp_path / "build", "--dist", dist)
    assert done.returncode == 1
    report = schemas.load("report", dist / "report.json")
    assert [(s["stage"], s["status"]) for s in report["stages"]] == [
        ("package", "failed"), ("apps", "not run"), ("verify", "not run"), ("share", "not run")]
    assert "expected one runtime-base-<version>-linux-x64.tar.gz, found 0" in report["stages"][0]["details"]["error"]


def test_the_manifest_says_what_a_host_would_hand_the_runtime(pipeline):
    (copy,) = pipeline["dist"].glob(f"runtime-base-*-{RID}.manifest.json")
    manifest = json.loads(copy.read_text())
    host = manifest["host"]
    assert (host["rid"], host["version"], host["abi"]["abi_hash"]) == (RID, manifest["version"], manifest["abi_hash"])
    assert host["files"] == {"library": "libRuntime.Base.so.10.0.0", "soname": "libRuntime.Base.so.10",
                             "link": ["libRuntime.Base.so"]}
    assert (host["abi"]["major"], host["abi"]["minor"], host["abi"]["symbol_version"]) == (10, 0, "RUNTIME_BASE_10.0")
    # glibc's order: the override before the app's own RUNPATH, the registered cache, then the defaults.
    assert [p["place"] for p in host["probing"]] == ["DT_RPATH", "LD_LIBRARY_PATH", "DT_RUNPATH", "/etc/ld.so.cache",
                                                      "default directories"]
    assert host["gc"]["owner"] == "Runtime.Base" and host["gc"]["app_knob_prefix"] == "System.GC."
