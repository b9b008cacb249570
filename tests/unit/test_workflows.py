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


def _expand(text: str, context: str, values: dict) -> str:
    """`${{ context.name }}` (and `${{ toJSON(context.name) }}`) in `text` replaced by `values`, as GitHub does."""
    text = re.sub(rf"\$\{{\{{ toJSON\({context}\.(\w+)\) \}}\}}", lambda m: json.dumps(values[m.group(1)]), text)
    return re.sub(rf"\$\{{\{{ {context}\.(\w+) \}}\}}", lambda m: str(values[m.group(1)]), text)


def runners_of(job: dict, inputs: dict) -> list[str]:
    """The runner labels a job of platform.yml runs on: its runs-on, over its matrix if it has one."""
    runs_on = _expand(job["runs-on"], "inputs", inputs)
    matrix = job.get("strategy", {}).get("matrix", {})
    if not matrix:
        return [runs_on]
    (axis, values), = matrix.items()
    source = re.fullmatch(r"\$\{\{ fromJSON\(inputs\.(\w+)\) \}\}", values)
    assert source, f"matrix {axis}: {values} is not an input's JSON list"
    return [_expand(runs_on, "matrix", {axis: value}) for value in json.loads(inputs[source.group(1)])]


def ci_legs(ci: dict, platform: dict) -> dict[str, dict[str, list[str]]]:
    """rid -> {job of platform.yml: its runners}, as GitHub expands ci.yml's matrix into platform.yml."""
    (call,) = [job for job in ci["jobs"].values() if called(job) == PLATFORM.name]
    assert call["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.matrix) }}"
    declared = platform["on"]["workflow_call"]["inputs"]
    assert set(call["with"]) == {name for name, spec in declared.items() if spec["required"]} == set(declared)
    legs = {}
    for entry in matrix()["include"]:
        inputs = {k: _expand(v, "matrix", entry) for k, v in call["with"].items()}
        legs[inputs["rid"]] = {name: runners_of(job, inputs) for name, job in platform["jobs"].items()}
    return legs


def test_ci_runs_every_platform_where_its_record_says():
    legs = ci_legs(load(CI), load(PLATFORM))
    assert legs == {rid: {"package": [p.build_runner], "test": list(p.test_runners)} for rid, p in PLATFORMS.items()}
    assert legs["win-arm64"] == {"package": ["ubuntu-24.04"], "test": ["windows-11-arm"]}
    assert legs["win-x64"] == {"package": ["ubuntu-24.04"], "test": ["windows-2025", "windows-2022"]}


def test_runner_labels_are_pinned_images():
    """No -latest label (it moves under a release): every job names an image on purpose."""
    labels = [job.get("runs-on", "") for path in WORKFLOWS for job in load(path)["jobs"].values()]
    labels += [runner for legs in ci_legs(load(CI), load(PLATFORM)).values() for runners in legs.values() for runner in runners]
    assert labels and not [label for label in labels if "latest" in label]


def windows_legs(workflow: dict) -> list[str]:
    """Jobs that can run on Windows and do not print the build host (vswhere, MSVC, SDK, CMake, Python)."""
    windows_runners = {p.runner for p in PLATFORMS.values() if p.os == "win"} | {
        r for p in PLATFORMS.values() if p.os == "win" for r in p.test_runners}
    missing = []
    for name, job in workflow["jobs"].items():
        runs_on = job.get("runs-on", "")
        include = job.get("strategy", {}).get("matrix", {})
        include = include.get("include") if isinstance(include, dict) else None
        if runs_on == "${{ matrix.runner }}" and include:  # a fixed matrix: its runners
            may_be_windows = any(entry["runner"] in windows_runners for entry in include)
        else:  # a label, or one only known when called (platform.yml's inputs, ci.yml's computed matrix)
            may_be_windows = runs_on in windows_runners or "${{" in runs_on
        if may_be_windows and not any("build-host" in step.get("run", "") for step in job.get("steps", [])):
            missing.append(name)
    return missing


@pytest.mark.parametrize("workflow", [CI, PLATFORM, GITHUB / "workflows" / "fork.yml"], ids=lambda p: p.name)
def test_every_windows_leg_prints_its_build_host(workflow):
    assert windows_legs(load(workflow)) == []


def test_a_windows_leg_without_the_build_host_is_caught():
    broken = load(PLATFORM)
    broken["jobs"]["test"]["steps"] = [s for s in broken["jobs"]["test"]["steps"] if "build-host" not in s.get("run", "")]
    assert windows_legs(broken) == ["test"]


def test_no_base_image_is_pulled_from_docker_hub():
    """The Linux build images start from the bootstrapped Debian (`nox -s images` without --base-image)."""
    for path in WORKFLOWS:
        text = path.read_text()
        assert "--base-image" not in text and "debian:bookworm" not in text and "docker.io" not in text, path.name
    package = load(PLATFORM)["jobs"]["package"]
    assert any("debootstrap" in step.get("run", "") for step in package["steps"])


def test_ci_can_be_run_by_hand_and_ends_in_one_required_result():
    ci = load(CI)
    assert "workflow_dispatch" in ci["on"]
    result = ci["jobs"]["result"]
    assert result["if"] == "always()"
    assert set(result["needs"]) == set(ci["jobs"]) - {"result"}


def aggregate(results: list[str]) -> subprocess.CompletedProcess:
    """ci.yml's result step, run as the runner runs it, on what `toJSON(needs.*.result)` gives."""
    (step,) = [s for s in load(CI)["jobs"]["result"]["steps"] if "run" in s]
    return subprocess.run(["bash", "-e", "-c", step["run"]], env={"RESULTS": json.dumps(results), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)


@pytest.mark.parametrize("results, passes", [
    (["success", "success", "success", "success"], True),
    (["success", "failure", "success", "success"], False),
    (["success", "skipped", "success", "success"], False),  # a leg that never ran is no pass
    (["success", "cancelled", "success", "success"], False),
])
def test_the_result_job_fails_unless_every_leg_succeeded(results, passes):
    done = aggregate(results)
    assert (done.returncode == 0) is passes, done.stdout + done.stderr


def test_the_windows_container_legs_are_the_records_ones():
    """ci.yml filters the matrix for them with jq, run here on the real matrix."""
    job = load(CI)["jobs"]["matrix"]
    (step,) = [s for s in job["steps"] if s.get("id") == "matrix"]
    jq = re.search(r"jq -c '([^']+)'", step["run"]).group(1)
    done = subprocess.run(["jq", "-c", jq], input=json.dumps(matrix()), capture_output=True, text=True, check=True)
    selected = json.loads(done.stdout)["include"]
    assert [(e["rid"], e["runner"]) for e in selected] == [(p.rid, p.runner) for p in PLATFORMS.values() if p.windows_container]
    assert selected and all(e["runner"] == "windows-2025" for e in selected)
    container = load(CI)["jobs"]["windows-container"]
    assert container["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.windows_containers) }}"
    commands = [s.get("run", "") for s in container["steps"]]
    assert 'nox -s images -- --platform "$RID"' in commands and 'nox -s crosscheck -- --platform "$RID"' in commands


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

