"""fork.yml, the job on the real fork, checked against ci/platforms, the nox sessions and the CLI."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ci import platforms
from ci.cli import parser
from ci.runtime.fork import driver, linkplan
from ci.runtime.output import DEFAULT_CONFIGURATION, RUNTIME_CONFIGURATIONS
from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "fork.yml"


@pytest.fixture(scope="module")
def flow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def triggers(flow: dict) -> dict:
    return flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as true


def runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def index_of(job: dict, needle: str) -> int:
    return next(i for i, step in enumerate(job["steps"]) if needle in step.get("run", "") or needle in step.get("uses", ""))


def nox_sessions() -> set[str]:
    tree = ast.parse((REPO / "noxfile.py").read_text())
    return {f.name for f in tree.body if isinstance(f, ast.FunctionDef)
            and any("session" in ast.unparse(d) for d in f.decorator_list)}


def test_linux_rids_run_on_their_platform_runners(flow):
    matrix = flow["jobs"]["linux"]["strategy"]["matrix"]["include"]
    expected = {p.rid: p.runner for p in platforms.PLATFORMS.values() if p.os == "linux"}
    assert {entry["rid"]: entry["runner"] for entry in matrix} == expected
    assert flow["jobs"]["linux"]["runs-on"] == "${{ matrix.runner }}"


def test_windows_rids_build_on_the_x64_runner_and_arm64_is_tested_on_its_own():
    """As upstream: arm64 cross-built on an x64 host (MSVC amd64_arm64), its apps run on arm64."""
    flow = yaml.safe_load(WORKFLOW.read_text())
    builder = platforms.get_platform(f"win-{linkplan.BUILD_HOST_ARCH}").runner
    matrix = flow["jobs"]["windows"]["strategy"]["matrix"]["include"]
    assert {entry["rid"]: entry["runner"] for entry in matrix} == {
        p.rid: builder for p in platforms.PLATFORMS.values() if p.os == "win"}
    for entry in matrix:  # what the builder can run: all checks for its own arch, verify only for another
        native = platforms.get_platform(entry["rid"]).arch == linkplan.BUILD_HOST_ARCH
        assert entry["checks"] == ("--check verify --check share --check smoke" if native else "--check verify"), entry
    test = flow["jobs"]["windows-arm64-test"]
    assert test["runs-on"] == platforms.get_platform("win-arm64").runner == "windows-11-arm"
    assert test["needs"] == "windows" and test["env"]["RID"] == "win-arm64"
    download = test["steps"][index_of(test, "actions/download-artifact@")]
    assert download["with"]["name"] == "fork-dist-win-arm64"
    (smoke,) = [c for c in runs(test) if c.startswith("nox -s smoke")]
    assert "--from-dist --check verify --check share" in smoke and "--runtime-repo fork" in smoke


def test_the_windows_build_prints_its_host_and_the_disk_before_and_after(flow):
    job = flow["jobs"]["windows"]
    disk = [i for i, step in enumerate(job["steps"]) if "Get-PSDrive" in step.get("run", "")]
    build = index_of(job, "nox -s build")
    assert index_of(job, "python -m ci build-host") < build
    assert len(disk) == 2 and disk[0] < build < disk[1] and job["steps"][disk[1]]["if"] == "always()"


def test_the_build_runs_with_ci_under_github_actions(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    argv = driver.command(driver.BuildRequest(Path("/fork"), platforms.get_platform("win-arm64")), host="win-x64").argv
    assert {"-ci", "-bl"} <= set(argv) and argv[argv.index("-a") + 1] == "arm64"


def test_inputs_for_dispatch_and_call_and_a_weekly_schedule(flow):
    on = triggers(flow)
    dispatch, call = on["workflow_dispatch"]["inputs"], on["workflow_call"]["inputs"]
    for inputs in (dispatch, call):
        assert {"repository", "ref", "configuration"} <= inputs.keys()
        assert inputs["configuration"]["default"] == DEFAULT_CONFIGURATION
    assert set(dispatch["configuration"]["options"]) == set(RUNTIME_CONFIGURATIONS)
    assert all(spec["type"] in ("string", "boolean", "number") for spec in call.values())  # workflow_call needs types
    minute, hour, day, month, weekday = on["schedule"][0]["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit()  # weekly
    assert flow["env"]["FORK_REF"] == "${{ inputs.ref }}"  # empty on the schedule: the fork's default branch
    assert f"|| '{DEFAULT_CONFIGURATION}'" in flow["env"]["CONFIGURATION"]  # the schedule has no inputs


def test_windows_legs_build_then_package_with_every_check_through_nox(flow):
    job = flow["jobs"]["windows"]
    commands = runs(job)
    nox = [c for c in commands if c.startswith("nox -s ")]
    assert [c.split()[2] for c in nox] == ["build", "package"] and {"build", "package"} <= nox_sessions()
    assert all("--runtime-repo fork" in c and '--configuration "$env:CONFIGURATION"' in c for c in nox)
    assert nox[1].endswith("@($env:CHECKS -split ' ')")  # the matrix entry's checks, one argument each
    for command in nox:  # what the sessions pass on parses as the CLI's own options
        args = command.split(" -- ", 1)[1].replace('"$env:RID"', "win-x64").replace('"$env:CONFIGURATION"', "Release")
        args = args.replace("@($env:CHECKS -split ' ')", "--check verify --check share --check smoke")
        parser().parse_args([{"build": "build", "package": "pipeline"}[command.split()[2]], *args.split()])
    assert 120 <= job["timeout-minutes"] <= 180


def test_the_cache_comes_before_the_build_and_is_keyed_by_the_build_cache_key(flow):
    job = flow["jobs"]["windows"]
    cache = job["steps"][index_of(job, "actions/cache@")]
    assert cache["with"]["key"] == "fork-${{ runner.os }}-${{ steps.fork-cache.outputs.key }}"
    assert cache["with"]["path"] == "${{ steps.fork-cache.outputs.paths }}"
    assert index_of(job, "python -m ci fork-cache") < index_of(job, "actions/cache@") < index_of(job, "nox -s build")


def test_checkouts_keep_no_credentials_and_long_paths_come_first(flow):
    for name, job in flow["jobs"].items():
        checkouts = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
        assert len(checkouts) == 2 and all(s["with"]["persist-credentials"] is False for s in checkouts), name
        assert checkouts[1]["with"]["path"] == "fork"
        assert job["permissions"] == {"contents": "read"}
    assert flow["permissions"] == {}
    windows = flow["jobs"]["windows"]
    assert index_of(windows, "core.longpaths true") < index_of(windows, "actions/checkout@")


def test_uploads_the_dist_the_build_log_and_the_binlog_for_a_while(flow):
    job = flow["jobs"]["windows"]
    uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    paths = "\n".join(s["with"]["path"] for s in uploads)
    assert "dist/" in paths
    assert f"fork/{driver.STATE_DIR.as_posix()}/*.log" in paths and f"fork/{driver.BINLOGS}" in paths
    assert all(s["if"] == "always()" and 1 <= s["with"]["retention-days"] <= 90 for s in uploads)
    assert "-bl" in driver.command(driver.BuildRequest(Path("/fork"), platforms.get_platform("win-x64")),
                                   host="win-x64").argv


def test_linux_legs_check_the_split_and_end_blocked_without_failing(flow):
    job = flow["jobs"]["linux"]
    check = job["steps"][index_of(job, "python -m ci fork-check")]
    assert check["id"] == "split"
    blocked = job["steps"][index_of(job, "GITHUB_STEP_SUMMARY")]
    assert blocked["if"] == "steps.split.outputs.ready != 'true'" and "exit 1" not in blocked["run"]
    later = job["steps"][index_of(job, "GITHUB_STEP_SUMMARY") + 1:]
    assert later and all("steps.split.outputs.ready == 'true'" in s["if"] for s in later)
    assert [c.split()[2] for c in runs(job) if c.startswith("nox -s ")] == ["build", "package"]


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed (it is part of the test extra)"
    return found


def test_actionlint_with_shellcheck_and_zizmor_are_clean():
    # actionlint skips shellcheck silently when it cannot find it: name it.
    lint = subprocess.run([_tool("actionlint"), "-shellcheck", _tool("shellcheck"), str(WORKFLOW)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", str(WORKFLOW)], capture_output=True, text=True)
    assert audit.returncode == 0, audit.stdout + audit.stderr
