"""publish, fetch and provenance against a local GitHub: every asset once, right bytes, public only when verified.

The CLI runs in-process (`ci.cli.main`) so the retry clock can be faked: no test sleeps.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

import pytest

from ci.cli import main as cli_main
from ci.redist.checksums import write_sums
from ci.release import github
from ci.release.github import GitHub, Retry
from ci.release.provenance import FILENAME as PROVENANCE
from ci.release.provenance import statement, write_provenance
from ci.release.publish import collect
from tests.conftest import REPO as CHECKOUT
from tests.conftest import assert_one_line_error
from tests.fake_github import TOKEN, FakeGitHub
from tests.hostile import encrypted_zip

REPO = "octo/runtime"
TAG = "v10.0.0"
ARCHIVE = "runtime-base-10.0.0-ref.1-linux-x64.tar.gz"
SYMBOLS = "runtime-base-10.0.0-ref.1-linux-x64-symbols.tar.gz"
SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}


@pytest.fixture(scope="module")
def built_dist(pipeline: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("release") / "dist"
    shutil.copytree(pipeline["dist"], dist, ignore=shutil.ignore_patterns(".*"))
    write_provenance(dist, {})
    return dist


@pytest.fixture
def dist(built_dist: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built_dist, tmp_path / "dist"))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """`python -m ci ARGS` through the real entry point."""
    def run(*args: str | Path) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = cli_main([str(a) for a in args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)
    return run


def publish(cli, dist: Path, *extra: str) -> dict:
    done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG, "--json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_published(fake: FakeGitHub, dist: Path) -> None:
    """Each local asset exactly once with our bytes (hashed by the server); public, and made so last."""
    local = {a.name: a.sha256 for a in collect(dist)}
    on_release = [(a.name, a.state, a.sha256) for a in fake.assets_of(TAG)]
    assert sorted(on_release) == sorted((name, "uploaded", digest) for name, digest in local.items())
    assert not fake.release(TAG).draft
    patches = [r for r in fake.writes() if r.method == "PATCH"]
    assert len(patches) == 1 and fake.writes()[-1] is patches[0]


def upload_statuses(fake: FakeGitHub, name: str) -> list[int | None]:
    return [r.status for r in fake.requests if r.method == "POST" and r.path.endswith(f"name={name}")]


# --- the happy path --------------------------------------------------------------------------


def test_clean_publish_then_rerun_writes_nothing(cli, fake, dist, clock):
    names = [a.name for a in collect(dist)]
    done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG)
    assert done.returncode == 0, done.stderr
    assert_published(fake, dist)
    assert fake.counts() == {"GET": 2, "POST": len(names) + 1, "PATCH": 1}
    assert f"{ARCHIVE}: 100% of" in done.stdout and "create draft, publish" in done.stdout
    for record in fake.requests:
        assert record.auth == "ok" and record.headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert record.headers["Accept"] == "application/vnd.github+json"
        assert record.headers["User-Agent"].startswith("runtime-base-ci")
    uploads = [r for r in fake.requests if r.path.startswith("/uploads/")]
    sizes = {a.name: a.size for a in collect(dist)}
    assert sorted(r.path.rpartition("name=")[2] for r in uploads) == sorted(names)
    for r in uploads:
        assert r.headers["Content-Type"] == "application/octet-stream"
        assert int(r.headers["Content-Length"]) == r.body_size == sizes[r.path.rpartition("name=")[2]]

    before = len(fake.requests)
    result = publish(cli, dist)
    assert Counter(r.method for r in fake.requests[before:]) == {"GET": 2}
    assert result["skipped"] == names and result["uploaded"] == result["replaced"] == []
    assert result["release_steps"] == [] and result["requests"] == {"GET": 2}
    assert clock.slept == []


def test_dry_run_writes_nothing(cli, fake, dist):
    result = publish(cli, dist, "--dry-run")
    assert fake.counts() == {"GET": 1} and fake.releases == {}
    assert result["release_steps"] == ["create draft", "publish"]
    assert {a["action"] for a in result["assets"]} == {"upload"}

    # An interrupted earlier run: one asset right, one a starter, one different.
    local = {a.name: a.path.read_bytes() for a in collect(dist)}
    fake.seed(REPO, TAG, {ARCHIVE: local[ARCHIVE], "report.json": b"{}"})
    fake.assets_of(TAG)[0].state = "starter"
    done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG, "--dry-run", "--replace")
    assert done.returncode == 0, done.stderr
    assert "reupload" in done.stdout and "replace" in done.stdout and "plan: publish" in done.stdout
    assert fake.writes() == []


# --- faults during upload ----------------------------------------------------------------------


def test_502_leaving_a_starter_asset_is_deleted_and_resent(cli, fake, dist, clock):
    fake.fail("502_after_body", "POST", f"name={ARCHIVE}$")
    result = publish(cli, dist)
    assert_published(fake, dist)
    assert upload_statuses(fake, ARCHIVE) == [502, 201]
    n = len(collect(dist))
    assert fake.counts() == {"GET": 3, "POST": n + 2, "DELETE": 1, "PATCH": 1}
    assert result["requests"] == fake.counts() and clock.slept == [1.0]


@pytest.mark.parametrize("keep_starter", [True, False])
def test_connection_reset_mid_upload(cli, fake, dist, clock, keep_starter):
    fake.fail("reset", "POST", f"name={SYMBOLS}$", keep_starter=keep_starter)
    publish(cli, dist)
    assert_published(fake, dist)
    assert upload_statuses(fake, SYMBOLS) == [None, 201]
    n = len(collect(dist))
    assert fake.counts() == {"GET": 3, "POST": n + 2, "PATCH": 1} | ({"DELETE": 1} if keep_starter else {})
    assert clock.slept == [1.0]


def test_lost_response_is_reconciled_not_resent(cli, fake, dist, clock):
    fake.fail("drop_response", "POST", f"name={ARCHIVE}$")
    publish(cli, dist)
    assert_published(fake, dist)
    assert upload_statuses(fake, ARCHIVE) == [None]
    assert fake.counts() == {"GET": 3, "POST": len(collect(dist)) + 1, "PATCH": 1}
    assert clock.slept == []


def test_lost_response_then_already_exists(cli, fake, dist, clock):
    # The asset landed, but the first listing after the lost answer lags behind: the resend gets 422.
    fake.fail("drop_response", "POST", f"name={ARCHIVE}$")
    fake.fail("hide", "GET", r"/assets", name=ARCHIVE)
    publish(cli, dist)
    assert_published(fake, dist)
    assert upload_statuses(fake, ARCHIVE) == [None, 422]
    assert fake.counts() == {"GET": 4, "POST": len(collect(dist)) + 2, "PATCH": 1}
    assert clock.slept == [1.0]


def test_upload_that_never_completes_gives_up(cli, fake, dist, clock):
    fake.fail("502_after_body", "POST", f"name={ARCHIVE}$", times=6)
    done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG, "--json")
    assert done.returncode == 1 and f"error: release {TAG}: {ARCHIVE} did not upload after 6 attempts" in done.stderr
    assert fake.release(TAG).draft and upload_statuses(fake, ARCHIVE) == [502] * 6
    assert clock.slept == [1.0, 2.0, 4.0, 8.0, 16.0]


# --- rate limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [("GET", r"/releases\?"), ("POST", f"name={ARCHIVE}$")])
def test_secondary_rate_limit_waits_retry_after(cli, fake, dist, clock, method, path):
    fake.fail("status", method, path, status=403, headers={"retry-after": "7"}, body=SECONDARY)
    publish(cli, dist)
    assert_published(fake, dist)
    n = len(collect(dist))
    extra = {"GET": 1} if method == "GET" else {"POST": 1}
    assert fake.counts() == dict(Counter({"GET": 2, "POST": n + 1, "PATCH": 1}) + Counter(extra))
    assert clock.slept == [7.0]


@pytest.mark.parametrize("headers, wait", [
    ({"retry-after": "5"}, 5.0),
    ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000013"}, 13.0),
])
def test_429_waits_as_told(cli, fake, dist, clock, headers, wait):
    fake.fail("status", "GET", r"/assets\?", status=429, headers=headers, body={"message": "Too Many Requests"})
    publish(cli, dist)
    assert_published(fake, dist)
    assert fake.counts()["GET"] == 3 and clock.slept == [wait]


def test_rate_limit_longer_than_the_cap_fails_at_once(cli, fake, dist, clock):
    fake.fail("status", "GET", r"/releases\?", status=429, headers={"retry-after": "3600"})
    done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG)
    assert_one_line_error(done, "rate limit", "3600s", f"GET /repos/{REPO}/releases", code=1)
    assert len(fake.requests) == 1 and clock.slept == []


@pytest.mark.parametrize("kind, path", [("stall", r"/assets\?"), ("trickle", r"/releases\?")])
def test_a_silent_server_ends_publish_at_its_deadline(cli, fake, dist, monkeypatch, kind, path):
    monkeypatch.setattr(github, "DEFAULT_LIMITS", github.Limits(deadline=0.5))
    fake.seed(REPO, TAG, {})
    fake.fail(kind, "GET", path, times=10)
    started = time.monotonic()
    done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG)
    assert_one_line_error(done, f"GitHub: GET /repos/{REPO}/releases", "0.5s deadline", code=1)
    assert time.monotonic() - started < 5 and fake.writes() == []


# --- pagination --------------------------------------------------------------------------------------


def test_more_than_100_assets_and_releases_are_paginated(cli, fake, tmp_path, clock):
    dist = tmp_path / "many"
    dist.mkdir()
    for i in range(105):
        (dist / f"runtime-base-0.0.1-part{i:03}.bin").write_bytes(os.urandom(64) + bytes([i]))
    write_sums(dist, [p.name for p in dist.iterdir()])
    write_provenance(dist, {})
    publish(cli, dist)
    assert_published(fake, dist)
    assert len(fake.assets_of(TAG)) == 107
    assert fake.counts() == {"GET": 3, "POST": 108, "PATCH": 1}  # the verifying listing takes 2 pages

    for i in range(150):  # newer releases push ours to the second page
        fake.seed(REPO, f"v0.{i}", {})
    before = len(fake.requests)
    result = publish(cli, dist)
    queries = [(r.method, r.path.partition("?")[2]) for r in fake.requests[before:]]
    assert queries == [("GET", "per_page=100"), ("GET", "per_page=100&page=2")] * 2
    assert len(result["skipped"]) == 107


# --- changed content ---------------------------------------------------------------------------------


def test_changed_file_needs_replace(cli, fake, dist, clock):
    old = {a.name: a.path.read_bytes() for a in collect(dist)}
    fake.seed(REPO, TAG, old)  # a draft left complete by a run that stopped before publishing
    (dist / "report.json").write_text('{"rebuilt": true}\n')

    done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG)
    assert_one_line_error(done, f"release {TAG} already has report.json with different content",
                          "--replace", code=1)
    assert fake.writes() == [] and fake.release(TAG).draft
    assert sorted(a.name for a in fake.assets_of(TAG)) == sorted(old)

    before = len(fake.requests)
    result = publish(cli, dist, "--replace")
    assert_published(fake, dist)
    assert result["replaced"] == ["report.json"] and result["uploaded"] == []
    assert Counter(r.method for r in fake.requests[before:]) == {"GET": 3, "DELETE": 1, "POST": 1, "PATCH": 1}


def test_published_release_is_never_changed(cli, fake, dist):
    publish(cli, dist)
    before = len(fake.requests)
    (dist / "report.json").write_text('{"rebuilt": true}\n')
    for extra in ((), ("--replace",)):
        done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG, *extra)
        assert_one_line_error(done, f"release {TAG} is already published", "immutable", "report.json", code=1)
    assert [r.method for r in fake.requests[before:]] == ["GET", "GET"] * 2


def test_local_file_not_matching_sha256sums(cli, fake, dist):
    with open(dist / ARCHIVE, "ab") as f:
        f.write(b"x")
    done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG)
    assert_one_line_error(done, str(dist / ARCHIVE), "does not match SHA256SUMS")
    assert fake.requests == []


def test_server_without_digests_compares_sizes_and_resends_only_with_replace(cli, tmp_path, dist, monkeypatch, clock):
    with FakeGitHub(tmp_path / "old-github", TOKEN, digests=False) as old:
        monkeypatch.setenv("GITHUB_API_URL", old.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        local = {a.name: a.path.read_bytes() for a in collect(dist)}
        old.seed(REPO, TAG, local | {"report.json": b"{}"})
        done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG)
        assert_one_line_error(done, "report.json with different content", code=1)  # its size differs
        assert old.writes() == []

        result = publish(cli, dist, "--replace")  # same size, no digest: content unknown, so resent too
        assert result["replaced"] == sorted(local) and result["unverified"] == []
        assert Counter(r.method for r in old.writes()) == {"DELETE": len(local), "POST": len(local), "PATCH": 1}
        before = len(old.requests)
        result = publish(cli, dist)
        assert result["unverified"] == sorted(local) and len(old.requests) == before + 2


# --- tokens ---------------------------------------------------------------------------------------------


def test_bad_token_is_one_clear_error_after_one_request(cli, fake, dist, monkeypatch, clock):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong")
    done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG)
    assert_one_line_error(done, f"GitHub rejected the token (401 Bad credentials) for GET /repos/{REPO}/releases",
                          code=1)
    assert len(fake.requests) == 1 and clock.slept == []

    monkeypatch.delenv("GITHUB_TOKEN")
    assert_one_line_error(cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG), "GITHUB_TOKEN is not set",
                          code=1)
    assert len(fake.requests) == 1


def test_token_never_appears_in_output_reports_requests_or_repr(cli, fake, dist, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    fake.fail("502_after_body", "POST", f"name={ARCHIVE}$")
    fake.fail("status", "GET", r"/releases\?", status=403, headers={"retry-after": "1"}, body=SECONDARY)
    fake.fail("drop_response", "POST", f"name={SYMBOLS}$")
    runs = [cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG),
            cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG, "--json")]
    (dist / "report.json").write_text("{}\n")
    runs.append(cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG))
    runs.append(cli("fetch", "--repo", REPO, "--tag", TAG, "--rid", "linux-x64", "--dest", tmp_path / "got"))
    client = GitHub.from_env()
    with pytest.raises(github.GitHubError) as failure:
        GitHub(fake.url, TOKEN, Retry(attempts=1)).request("GET", "/nowhere")
    recorded = [repr(r) for r in fake.requests] + [r.body.decode() for r in fake.requests]
    everything = "\n".join([*(r.stdout + r.stderr for r in runs), summary.read_text(), caplog.text, *recorded,
                            repr(client), repr(client.session.auth), str(failure.value)])
    assert runs[0].returncode == 0 and runs[2].returncode == 1 and "## Release" in everything
    assert all(r.auth == "ok" for r in fake.requests if not r.path.startswith(("/blobs/", "/nowhere")))
    assert TOKEN not in everything and TOKEN[-12:] not in everything


def test_a_token_echoed_by_the_server_is_redacted_from_reports(cli, fake, dist, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    release = fake.seed(REPO, TAG, {})
    listing = [{"id": release.id, "tag_name": TAG, "draft": True, "html_url": f"https://example.test/{TOKEN}",
                "upload_url": f"{fake.url}/uploads/repos/{REPO}/releases/{release.id}/assets{{?name,label}}"}]
    for extra in ("--json", "--dry-run"):
        fake.fail("status", "GET", r"/releases\?", status=200, body=listing)
        done = cli("publish", "--dist", dist, "--repo", REPO, "--tag", TAG, "--dry-run", extra)
        assert done.returncode == 0, done.stderr
        assert "https://example.test/***" in done.stdout and TOKEN not in done.stdout + done.stderr
    assert "https://example.test/***" in summary.read_text() and TOKEN not in summary.read_text()


@pytest.mark.parametrize("fifo", ["report-extra.json", "SHA256SUMS", ARCHIVE, PROVENANCE])
def test_a_fifo_in_dist_is_refused_not_waited_on(fake, dist, fifo):
    (dist / fifo).unlink(missing_ok=True)
    os.mkfifo(dist / fifo)
    env = {**os.environ, "GITHUB_API_URL": fake.url, "GITHUB_TOKEN": TOKEN}
    done = subprocess.run([sys.executable, "-m", "ci", "publish", "--dist", str(dist), "--repo", REPO, "--tag", TAG],
                          cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert_one_line_error(done, str(dist / fifo), "not a regular file")
    assert fake.requests == []


# --- fetch -----------------------------------------------------------------------------------------------


def test_fetch_round_trip(cli, fake, dist, tmp_path):
    publish(cli, dist)
    done = cli("fetch", "--repo", REPO, "--tag", TAG, "--rid", "linux-x64", "--dest", tmp_path / "runtime", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["archive"] == ARCHIVE and Path(result["library"]).is_file()
    manifest = json.loads((tmp_path / "runtime" / "manifest.json").read_text())
    assert manifest == json.loads((dist / "runtime-base-10.0.0-ref.1-linux-x64.manifest.json").read_text())
    assert not [p for p in tmp_path.iterdir() if ".fetch." in p.name]  # the download folder is gone


def test_fetch_refuses_a_tampered_archive(cli, fake, dist, tmp_path):
    publish(cli, dist)
    fake.tamper(TAG, ARCHIVE)
    done = cli("fetch", "--repo", REPO, "--tag", TAG, "--rid", "linux-x64", "--dest", tmp_path / "runtime")
    assert_one_line_error(done, f"{REPO} release {TAG} {ARCHIVE}: sha256", "does not match SHA256SUMS")
    assert not (tmp_path / "runtime").exists()


def test_fetch_of_a_missing_release(cli, fake, tmp_path):
    done = cli("fetch", "--repo", REPO, "--tag", "v9", "--rid", "linux-x64", "--dest", tmp_path / "runtime")
    assert_one_line_error(done, f"{REPO} release v9: not found", code=1)


def _repack_manifest(source: Path, dest: Path, edit) -> None:
    """Copy a package archive with its manifest.json text changed by `edit(text)`."""
    with tarfile.open(source) as src, tarfile.open(dest, "w:gz") as out:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name == "manifest.json":
                data = edit(data.decode()).encode()
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)


def _edited(key: str, value: object):
    def edit(text: str) -> str:
        manifest = json.loads(text)
        if value is None:
            del manifest[key]
        else:
            manifest[key] = value
        return json.dumps(manifest)
    return edit


def _duplicated(first: str, last: str):
    """The rid key twice: `first` as the first key, `last` where the manifest had it."""
    def edit(text: str) -> str:
        manifest = json.loads(text) | {"rid": last}
        return '{"rid": ' + json.dumps(first) + ", " + json.dumps(manifest)[1:]
    return edit


@pytest.mark.parametrize("edit, problem", [
    (_edited("rid", "linux-arm64"), "is a linux-arm64 package, not linux-x64"),
    (_duplicated("linux-arm64", "linux-x64"), "duplicate key 'rid'"),
    (_duplicated("linux-x64", "linux-arm64"), "duplicate key 'rid'"),
    (_edited("library", "lib/libElsewhere.so"), "library 'lib/libElsewhere.so' is not among its files"),
    (_edited("library", None), "'library' is a required property"),
    (_edited("library", "include/RuntimeBase.h"), "its library include/RuntimeBase.h: not an ELF or PE binary"),
])
def test_fetch_refuses_a_package_whose_manifest_lies(cli, fake, dist, tmp_path, edit, problem):
    hostile = tmp_path / ARCHIVE
    _repack_manifest(dist / ARCHIVE, hostile, edit)
    sums = f"{hashlib.sha256(hostile.read_bytes()).hexdigest()}  {ARCHIVE}\n".encode()
    fake.seed(REPO, TAG, {"SHA256SUMS": sums, ARCHIVE: hostile.read_bytes()}, draft=False)
    done = cli("fetch", "--repo", REPO, "--tag", TAG, "--rid", "linux-x64", "--dest", tmp_path / "runtime")
    assert_one_line_error(done, f"{REPO} release {TAG} {ARCHIVE}", problem)
    assert not (tmp_path / "runtime").exists()
    assert not [p for p in tmp_path.iterdir() if ".fetch." in p.name]


def test_fetch_refuses_a_zip_of_encrypted_entries(cli, fake, dist, tmp_path):
    hostile = tmp_path / ARCHIVE  # a zip under the tar.gz name: the reader goes by the bytes
    encrypted_zip(dist / ARCHIVE, hostile)
    sums = f"{hashlib.sha256(hostile.read_bytes()).hexdigest()}  {ARCHIVE}\n".encode()
    fake.seed(REPO, TAG, {"SHA256SUMS": sums, ARCHIVE: hostile.read_bytes()}, draft=False)
    done = cli("fetch", "--repo", REPO, "--tag", TAG, "--rid", "linux-x64", "--dest", tmp_path / "runtime")
    assert_one_line_error(done, f"{REPO} release {TAG} {ARCHIVE}", "manifest.json", "is encrypted; refused")
    assert not (tmp_path / "runtime").exists()
    assert not [p for p in tmp_path.iterdir() if ".fetch." in p.name]


# --- provenance --------------------------------------------------------------------------------------------


def test_provenance_in_actions_names_the_run_and_every_file(dist):
    env = {"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": REPO,
           "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_REF": f"refs/tags/{TAG}",
           "GITHUB_SHA": "a" * 40, "GITHUB_WORKFLOW_REF": f"{REPO}/.github/workflows/release.yml@refs/tags/{TAG}",
           "GITHUB_EVENT_NAME": "push"}
    data = statement(dist, env)
    sums = dict(line.split()[::-1] for line in (dist / "SHA256SUMS").read_text().splitlines())
    assert data["_type"] == "https://in-toto.io/Statement/v1"
    assert data["predicateType"] == "https://slsa.dev/provenance/v1"
    assert {s["name"]: s["digest"]["sha256"] for s in data["subject"]} == sums
    build, run = data["predicate"]["buildDefinition"], data["predicate"]["runDetails"]
    assert build["externalParameters"]["workflow"] == {
        "ref": f"refs/tags/{TAG}", "repository": f"https://github.com/{REPO}", "path": ".github/workflows/release.yml"}
    assert build["resolvedDependencies"] == [
        {"uri": f"git+https://github.com/{REPO}@refs/tags/{TAG}", "digest": {"gitCommit": "a" * 40}}]
    assert run["builder"]["id"] == f"https://github.com/{REPO}/actions/runs/4242"
    assert run["metadata"]["invocationId"] == f"https://github.com/{REPO}/actions/runs/4242/attempts/2"


def test_provenance_is_deterministic_and_local_outside_actions(cli, dist):
    first = (dist / PROVENANCE).read_bytes()
    assert cli("provenance", "--dist", dist).returncode == 0
    assert (dist / PROVENANCE).read_bytes() == first
    data = json.loads(first)
    assert list(data) == sorted(data) and data["predicate"]["runDetails"]["builder"]["id"].endswith(":local")
    commit = data["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"]
    assert len(commit) == 40
