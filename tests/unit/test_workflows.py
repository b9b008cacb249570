"""The GitHub Actions workflows: linted (actionlint with shellcheck, zizmor), hygienic (every job
bounded in time, artifacts expire, caches never reach a release), and CI's and the release's
platforms and runners are exactly the platform records'.

Hygiene applies to every file in .github/workflows; the platform checks to the CI workflows
(ci.yml, the per-platform platform.yml it calls, and release.yml, which calls ci.yml)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ci.platforms import PLATFORMS
from ci.platforms.matrix import matrix
from tests.conftest import REPO

GITHUB = REPO / ".github"
WORKFLOWS = sorted(p for p in (GITHUB / "workflows").iterdir() if p.suffix in (".yml", ".yaml"))
CI, PLATFORM, RELEASE = (GITHUB / "workflows" / name for name in ("ci.yml", "platform.yml", "release.yml"))
SELF = "$/.github/workflows/"  # GitHub's self-repository syntax for a reusable workflow of this repository


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed (it is part of the test extra)"
    return found


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as true
    return workflow


def steps(job: dict, action: str) -> list[dict]:
    return [s for s in job.get("steps", []) if s.get("uses", "").split("@")[0] == action]


def called(job: dict) -> str | None:
    """The reusable workflow of this repository a job calls (file name), if any."""
    uses = job.get("uses", "")
    return uses.removeprefix(SELF) if uses.startswith(SELF) else None


# --- hygiene, every workflow ------------------------------------------------------------------


def may_release(workflow: dict) -> bool:
    """Runs on a tag push, or can be called by a workflow that does (release.yml calls ci.yml)."""
    on = workflow["on"]  # `on: push`, `on: [push, pull_request]` or a mapping
    on = on if isinstance(on, dict) else dict.fromkeys([on] if isinstance(on, str) else on)
    return "workflow_call" in on or "tags" in (on.get("push") or {})


def hygiene(workflow: dict) -> list[str]:
    problems = []
    for name, job in workflow["jobs"].items():
        if "uses" in job:  # a reusable-workflow call takes no timeout: its own jobs have one
            continue
        if not isinstance(job.get("timeout-minutes"), int):
            problems.append(f"{name}: no timeout-minutes (GitHub's default is 360)")
        for step in steps(job, "actions/upload-artifact"):
            if not step.get("with", {}).get("retention-days"):
                problems.append(f"{name}: artifact {step['with'].get('name')} has no retention-days")
        for step in steps(job, "actions/cache"):
            key = step.get("with", {}).get("key", "")
            # The inputs' hash: hashFiles, or a key a step computed from the inputs (fork.yml's build key).
            if "runner.os" not in key or ("hashFiles(" not in key and "steps." not in key):
                problems.append(f"{name}: cache key {key!r} lacks the OS or the inputs' hash")
            if "~" in step.get("with", {}).get("path", ""):
                problems.append(f"{name}: cache path under ~ differs per OS")
            gate = step.get("if") or ""
            if may_release(workflow) and "tag" not in gate and "RESTORE_CACHES" not in gate:
                problems.append(f"{name}: cache restored in tag (release) runs too")
    return problems


@pytest.mark.parametrize("on, releases", [
    ("push", False), (["push", "pull_request"], False), ({"workflow_dispatch": None}, False),
    ({"push": {"tags": ["v*"]}}, True), ({"workflow_call": None}, True),
])
def test_caches_must_skip_releases_only_where_a_release_can_run(on, releases):
    assert may_release({"on": on}) is releases


def test_there_are_workflows():
    assert {CI, PLATFORM, RELEASE} <= set(WORKFLOWS)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_is_bounded_and_its_artifacts_and_caches_are_kept_right(workflow):
    assert hygiene(load(workflow)) == []


def test_hygiene_catches_an_unbounded_job_and_a_forever_artifact():
    broken = load(PLATFORM)
    del broken["jobs"]["test"]["timeout-minutes"]
    del steps(broken["jobs"]["package"], "actions/upload-artifact")[0]["with"]["retention-days"]
    steps(broken["jobs"]["test"], "actions/cache")[0]["with"]["path"] = "~/.cache/pip"
    assert hygiene(broken) == ["package: artifact dist-${{ inputs.rid }} has no retention-days",
                               "test: no timeout-minutes (GitHub's default is 360)",
                               "test: cache path under ~ differs per OS"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_with_shellcheck_passes(workflow):
    # actionlint skips shellcheck silently when it is not on PATH: name the one from the test extra.
    done = subprocess.run([_tool("actionlint"), f"-shellcheck={_tool('shellcheck')}", str(workflow)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_really_runs_shellcheck(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo $FOO\n")
    done = subprocess.run([_tool("actionlint"), f"-shellcheck={_tool('shellcheck')}", str(bad)],
                          capture_output=True, text=True)
    assert "SC2086" in done.stdout


@pytest.mark.parametrize("path", [*WORKFLOWS, GITHUB / "dependabot.yml"], ids=lambda p: p.name)
def test_zizmor_passes(path):
    done = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", [REPO / ".ci" / "run", *sorted(GITHUB.glob("*.sh"))], ids=lambda p: p.name)
def test_scripts_the_workflows_run_are_shellcheck_clean(script):
    done = subprocess.run([_tool("shellcheck"), str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha(workflow):
    uses = re.findall(r"uses:\s*([^\s#]+)", workflow.read_text())
    remote = [u for u in uses if not u.startswith(("./", "$/"))]
    assert all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u) for u in remote), remote


def test_dependabot_updates_the_actions_after_a_cooldown():
    config = yaml.safe_load((GITHUB / "dependabot.yml").read_text())
    actions = [u for u in config["updates"] if u["package-ecosystem"] == "github-actions"]
    assert actions and actions[0]["cooldown"]["default-days"] >= 7


# --- CI and release against the platform records ------------------------------------------------


def ci_legs(ci: dict, platform: dict) -> dict[str, dict[str, str]]:
    """rid -> {job of platform.yml: its runner}, as GitHub expands ci.yml's matrix into platform.yml."""
    (call,) = [job for job in ci["jobs"].values() if called(job) == PLATFORM.name]
    assert call["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.matrix) }}"
    declared = platform["on"]["workflow_call"]["inputs"]
    assert set(call["with"]) == {name for name, spec in declared.items() if spec["required"]} == set(declared)
    legs = {}
    for entry in matrix()["include"]:
        inputs = {k: re.sub(r"\$\{\{ matrix\.(\w+) \}\}", lambda m: str(entry[m.group(1)]), v)
                  for k, v in call["with"].items()}
        legs[inputs["rid"]] = {name: re.sub(r"\$\{\{ inputs\.(\w+) \}\}", lambda m: inputs[m.group(1)], job["runs-on"])
                               for name, job in platform["jobs"].items()}
    return legs


def test_ci_runs_every_platform_where_its_record_says():
    legs = ci_legs(load(CI), load(PLATFORM))
    assert legs == {rid: {"package": p.build_runner, "test": p.test_runner} for rid, p in PLATFORMS.items()}
    assert legs["win-arm64"] == {"package": "ubuntu-24.04", "test": "windows-11-arm"}


def test_the_matrix_comes_from_the_platform_records_not_from_yaml():
    for path in (CI, PLATFORM, RELEASE):
        text = path.read_text()
        assert not [rid for rid in PLATFORMS if rid in text], path.name
    assert "nox -s matrix" in CI.read_text()
    assert [entry["rid"] for entry in matrix()["include"]] == list(PLATFORMS)


def cross_rid_needs(platform: dict) -> list[str]:
    """Test legs that could wait for, or take, another platform's package."""
    problems = []
    for name, job in platform["jobs"].items():
        for step in steps(job, "actions/download-artifact"):
            args = step.get("with", {})
            if "pattern" in args or args.get("name") != "dist-${{ inputs.rid }}":
                problems.append(f"{name}: downloads {args.get('name') or args.get('pattern')}")
        needs = job.get("needs", [])
        for need in [needs] if isinstance(needs, str) else needs:
            if need not in platform["jobs"]:
                problems.append(f"{name}: needs {need} outside its platform")
    return problems


def test_a_test_leg_needs_only_its_own_platforms_package():
    platform, ci = load(PLATFORM), load(CI)
    assert cross_rid_needs(platform) == []
    assert platform["jobs"]["test"]["needs"] == "package"
    # ci.yml itself downloads nothing: a package only ever goes to its own platform's test leg.
    assert not [s for job in ci["jobs"].values() for s in steps(job, "actions/download-artifact")]


def test_a_leg_that_takes_another_platforms_package_is_caught():
    broken = load(PLATFORM)
    steps(broken["jobs"]["test"], "actions/download-artifact")[0]["with"] = {"pattern": "dist-*"}
    broken["jobs"]["test"]["needs"] = ["package", "matrix"]
    assert cross_rid_needs(broken) == ["test: downloads dist-*", "test: needs matrix outside its platform"]


def release_problems(release: dict) -> list[str]:
    """The release must ship CI's bytes: it calls ci.yml and builds nothing of its own."""
    jobs = release["jobs"]
    problems = [f"{name}: builds outside CI" for name, job in jobs.items()
                if "strategy" in job or re.search(r"nox -s (package|container|images|smoke)",
                                                  json.dumps(job.get("steps", [])))]
    problems += [f"{name}: calls {called(job)}" for name, job in jobs.items() if "uses" in job and called(job) != CI.name]
    if not any(called(job) == CI.name for job in jobs.values()):
        problems.append("does not call ci.yml")
    return problems


def test_the_release_is_ci_then_publish():
    release = load(RELEASE)
    assert "workflow_call" in load(CI)["on"]
    assert release_problems(release) == []
    jobs = release["jobs"]
    assert jobs["version"]["needs"] == "ci"
    assert jobs["publish"]["needs"] == ["ci", "version"]
    assert jobs["publish"]["environment"] == "release"
    writers = [name for name, job in jobs.items() if "write" in (job.get("permissions") or {}).values()]
    assert writers == ["publish"]


def test_a_release_that_builds_its_own_packages_is_caught():
    broken = load(RELEASE)
    broken["jobs"]["package"] = {"runs-on": "ubuntu-24.04", "strategy": {"matrix": {"rid": ["linux-x64"]}},
                                 "steps": [{"run": "nox -s package -- --platform linux-x64"}]}
    del broken["jobs"]["ci"]
    assert release_problems(broken) == ["package: builds outside CI", "does not call ci.yml"]


def version_check(tmp_path: Path, tag: str, versions: dict[str, str]) -> subprocess.CompletedProcess:
    """release.yml's tag check, run as the runner runs it (bash -e) over artifacts laid out as
    download-artifact lays them out (parts/dist-<rid>/...)."""
    (step,) = [s for s in load(RELEASE)["jobs"]["version"]["steps"] if "run" in s]
    for rid, version in versions.items():
        part = tmp_path / "parts" / f"dist-{rid}"
        part.mkdir(parents=True)
        (part / f"runtime-base-{version}-{rid}.manifest.json").write_text(json.dumps({"version": version, "rid": rid}))
    return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env={"TAG": tag, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)


def test_the_release_stops_before_publishing_when_the_tag_is_not_the_version(tmp_path):
    done = version_check(tmp_path, "v1.2.4", {rid: "1.2.3" for rid in PLATFORMS})
    assert done.returncode == 1
    assert "version 1.2.3 does not match tag v1.2.4" in done.stdout


def test_the_release_goes_on_when_every_manifest_is_the_tags_version(tmp_path):
    done = version_check(tmp_path, "v1.2.3", {rid: "1.2.3" for rid in PLATFORMS})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "tag v1.2.3 matches 4 manifests"


def test_the_release_stops_when_ci_left_no_manifests(tmp_path):
    done = version_check(tmp_path, "v1.2.3", {})
    assert done.returncode == 1 and "no manifests" in done.stdout


def test_matrix_cli_prints_the_same_json():
    done = subprocess.run([sys.executable, "-m", "ci", "matrix"], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == matrix()

