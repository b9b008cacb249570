"""`python -m ci savings`: disk, memory and in-process runtime resources, split vs self-contained,
measured from real binaries and processes (linux-x64 native, linux-arm64 under qemu-user)."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest

from ci.core import schemas
from tests.conftest import run_ci

RIDS = ["linux-x64", "linux-arm64"]


@pytest.fixture(scope="module")
def report(savings_run) -> dict:
    return schemas.load("savings", savings_run["dist"] / "savings.json")  # validates against the schema


def test_the_report_covers_both_platforms_and_says_how_each_ran(report):
    assert list(report["platforms"]) == sorted(RIDS)
    assert report["platforms"]["linux-x64"]["how"] == "native"
    assert report["platforms"]["linux-arm64"]["how"] == "emulated (qemu-user)"
    assert all(e["ok"] and not e["problems"] for e in report["platforms"].values())


@pytest.mark.parametrize("rid", RIDS)
def test_every_self_contained_binary_is_larger_than_its_split_twin(report, rid):
    for binary in report["platforms"][rid]["disk"]["binaries"]:
        assert binary["self_contained_bytes"] > binary["split_bytes"], binary


@pytest.mark.parametrize("rid", RIDS)
def test_break_even_n_follows_from_the_sizes(report, rid):
    disk = report["platforms"][rid]["disk"]
    binaries = disk["binaries"]
    assert disk["split_total_bytes"] == sum(b["split_bytes"] for b in binaries) + disk["runtime_bytes"]
    assert disk["self_contained_total_bytes"] == sum(b["self_contained_bytes"] for b in binaries)
    n = disk["break_even_n"]
    by_n = {row["n"]: row for row in disk["by_n"]}
    assert by_n[n]["split_bytes"] <= by_n[n]["self_contained_bytes"]  # from N on the split costs no more
    if n > 1:
        assert by_n[n - 1]["split_bytes"] > by_n[n - 1]["self_contained_bytes"]


@pytest.mark.parametrize("rid", RIDS)
def test_private_runtimes_in_the_plugin_host_multiply_instances_and_heaps(report, rid):
    host = report["platforms"][rid]["plugin_host"]
    split, twins = host["split"], host["self_contained"]
    assert (split["runtime_instances"], split["heaps"]) == (1, 1)
    # The two plugins' private runtimes, plus the host's own.
    assert (twins["runtime_instances"], twins["heaps"]) == (3, 3)
    assert twins["heap_reserved_kib"] == 3 * split["heap_reserved_kib"] > 0
    assert twins["vm_kib"] > split["vm_kib"]


@pytest.mark.parametrize("rid", RIDS)
def test_memory_is_read_from_every_process_in_both_runs(report, rid):
    memory = report["platforms"][rid]["memory"]
    for run in (memory["split"], memory["self_contained"]):
        assert [p["app"] for p in run["processes"]] == ["alloc", "hello", "plugin_host", "threads"]
        assert run["total_pss_kib"] == sum(p["pss_kib"] for p in run["processes"])
    assert memory["split"]["runtime_pss_kib"] > 0
    # Shared, the runtime's pages are split among the processes; private, each pays for its own.
    assert memory["self_contained"]["runtime_pss_kib"] > memory["split"]["runtime_pss_kib"]


def test_the_chart_is_svg_and_the_job_summary_has_mermaid_and_a_table(savings_run, report):
    root = ET.parse(savings_run["dist"] / "savings.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = " ".join(root.itertext())
    assert all(rid in text for rid in RIDS)
    summary = savings_run["summary"].read_text()
    assert summary.count("```mermaid\nxychart-beta") == 4  # per platform: disk against N, memory and heaps
    by_n = report["platforms"]["linux-x64"]["disk"]["by_n"]
    assert f"    line [{', '.join(str(row['split_bytes'] // 1024) for row in by_n)}]" in summary
    disk = report["platforms"]["linux-x64"]["disk"]
    assert f"| break-even N | {disk['break_even_n']} |" in summary


def test_the_terminal_table_names_each_platform(savings_run):
    assert "linux-x64: native" in savings_run["output"]
    assert "linux-arm64: emulated (qemu-user)" in savings_run["output"]


def test_a_corrupt_savings_report_fails_the_stage_in_one_line(savings_run, tmp_path):
    dist = tmp_path / "dist"
    shutil.copytree(savings_run["dist"], dist)
    (dist / "savings.json").write_text('{"schema_version": 1, "platforms": {"linux-x64": {"rid": 3}}}\n')
    done = run_ci("savings", "--platform", "linux-x64", "--build-dir", savings_run["build"], "--dist", dist)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "savings linux-x64 failed" in done.stdout and "fails savings schema" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert (dist / "savings.json").read_text().startswith('{"schema_version": 1, "platforms": {"linux-x64": {"rid": 3')
