"""dist/provenance.intoto.json: an in-toto Statement with SLSA provenance v1 for every file in SHA256SUMS.

In GitHub Actions the builder is the workflow run; elsewhere a local builder, with the source commit
taken from git. The JSON has sorted keys and no timestamps: the same dist and run give the same bytes.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from ci.core.errors import CiError, InputError
from ci.core.fs import atomic_write_text, sha256_file
from ci.core.git import tree_state
from ci.core.resources import checkout_root
from ci.redist.checksums import SUMS, read_sums

FILENAME = "provenance.intoto.json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
# GitHub's build type for a workflow run: externalParameters.workflow is {ref, repository, path}.
BUILD_TYPE = "https://actions.github.io/buildtypes/workflow/v1"
WORKFLOW = ".github/workflows/release.yml"
LOCAL_BUILDER = "urn:runtime-base-ci:builder:local"
# internalParameters.github of GitHub's workflow build type, from the job's variables.
_INTERNAL = {"event_name": "GITHUB_EVENT_NAME", "repository_id": "GITHUB_REPOSITORY_ID",
             "repository_owner_id": "GITHUB_REPOSITORY_OWNER_ID", "runner_environment": "RUNNER_ENVIRONMENT"}


def regular_file(path: Path, missing: str = "missing") -> Path:
    """`path`, if it is a regular file: a FIFO or a device in dist/ would block or never end when read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(path, missing) from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise InputError(path, "not a regular file")
    return path


def verified_sums(dist: Path) -> dict[str, str]:
    """SHA256SUMS with every file checked against it: we attest and publish only what is really there."""
    sums = read_sums(regular_file(dist / SUMS))
    for name, expected in sorted(sums.items()):
        path = regular_file(dist / name, f"listed in {SUMS} but missing")
        if (actual := sha256_file(path)) != expected:
            raise InputError(path, f"sha256 {actual} does not match {SUMS} ({expected})")
    return sums


def _actions_run(env: Mapping[str, str]) -> dict:
    """Where, from what and by which run: the GitHub Actions variables of this job."""
    try:
        repository = f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}"
        run = f"{repository}/actions/runs/{env['GITHUB_RUN_ID']}"
        ref, commit = env["GITHUB_REF"], env["GITHUB_SHA"]
    except KeyError as exc:
        raise CiError(f"provenance: {exc.args[0]} is not set (expected in GitHub Actions)") from None
    # GITHUB_WORKFLOW_REF is "owner/repo/.github/workflows/release.yml@refs/tags/v1".
    workflow = env.get("GITHUB_WORKFLOW_REF", "").partition("@")[0]
    path = workflow.removeprefix(env["GITHUB_REPOSITORY"] + "/") or WORKFLOW
    return {"repository": repository, "ref": ref, "commit": commit, "path": path, "builder": run,
            "invocation": f"{run}/attempts/{env.get('GITHUB_RUN_ATTEMPT', '1')}",
            "github": {key: env[var] for key, var in _INTERNAL.items() if var in env}}


def _local_run(sums_digest: str) -> dict:
    """A build outside Actions: this checkout's commit; the invocation named by what it produced."""
    repo = checkout_root()
    source = tree_state(repo)
    if source.commit is None:
        raise CiError(f"provenance: {repo} is not a git checkout; the source commit is unknown")
    return {"repository": repo.as_uri(), "ref": "HEAD", "commit": source.commit, "path": WORKFLOW,
            "builder": LOCAL_BUILDER, "invocation": f"{LOCAL_BUILDER}:{sums_digest}", "github": {}}


def statement(dist: Path, env: Mapping[str, str]) -> dict:
    sums = verified_sums(dist)
    in_actions = env.get("GITHUB_ACTIONS") == "true"
    run = _actions_run(env) if in_actions else _local_run(sha256_file(dist / SUMS))
    build = {
        "buildType": BUILD_TYPE,
        "externalParameters": {"workflow": {"ref": run["ref"], "repository": run["repository"], "path": run["path"]}},
        "resolvedDependencies": [{"uri": f"git+{run['repository']}@{run['ref']}",
                                  "digest": {"gitCommit": run["commit"]}}],
    }
    if run["github"]:
        build["internalParameters"] = {"github": run["github"]}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digest}} for name, digest in sorted(sums.items())],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": build,
            "runDetails": {"builder": {"id": run["builder"]}, "metadata": {"invocationId": run["invocation"]}},
        },
    }


def write_provenance(dist: Path, env: Mapping[str, str] = os.environ) -> Path:
    """Write dist/provenance.intoto.json atomically; returns its path."""
    data = statement(dist, env)
    path = dist / FILENAME
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
