"""A hostile or broken GitHub, a bad token and a bad API URL: the token stays home, every operation ends
in time, and every failure is one line that never shows the token. Real local servers, no mocks; the
waits are short deadlines, never sleeps."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from ci.cli import main as cli_main
from ci.core.errors import CiError
from ci.release.answers import RELEASE
from ci.release.fetch import fetch
from ci.release.github import GitHub, GitHubError, Limits, Retry, Uncertain
from tests.conftest import assert_one_line_error
from tests.fake_github import FakeGitHub

TOKEN = "ghp_FAULTtoken0123456789abcdefSECRET"
REPO = "o/r"
NOW = 1_700_000_000.0
SHORT = Limits(deadline=0.4, min_rate=1e12)  # transfers get no extra time for their size
HOSTS = ("127.0.0.1", "127.0.0.2", "localhost")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", ",".join(HOSTS))
    for name in ("GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "GITHUB_TOKEN", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake(tmp_path: Path):
    with FakeGitHub(tmp_path / "github", TOKEN) as server:
        yield server


@pytest.fixture
def other(tmp_path: Path):
    """A second server on another loopback address, sharing the first one's blobs: storage, or a thief."""
    with FakeGitHub(tmp_path / "github", TOKEN, host="127.0.0.2") as server:
        yield server


@pytest.fixture
def slept() -> list[float]:
    return []


def client(fake: FakeGitHub, slept: list[float], limits: Limits | None = None, token: str = TOKEN,
           log=lambda message: None) -> GitHub:
    return GitHub(fake.url, token, Retry(sleep=slept.append, clock=lambda: NOW, rand=lambda: 1.0), log, limits)


def cli(capsys: pytest.CaptureFixture, *args: str | Path) -> subprocess.CompletedProcess:
    """`python -m ci ARGS` through the real entry point, in this process."""
    capsys.readouterr()
    code = cli_main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def fetch_args(dest: Path, tag: str = "v1") -> tuple[str, ...]:
    return ("fetch", "--repo", REPO, "--tag", tag, "--rid", "linux-x64", "--dest", str(dest))


def release_json(fake: FakeGitHub, id: int = 1, **fields) -> dict:
    return {"id": id, "tag_name": "v1", "draft": False, "html_url": None,
            "upload_url": f"{fake.url}/uploads/repos/{REPO}/releases/{id}/assets{{?name,label}}"} | fields


def asset_json(url: str, **fields) -> dict:
    return {"id": 7, "name": "SHA256SUMS", "state": "uploaded", "size": 10, "digest": None, "url": url} | fields


# --- 1. the token as given ---------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n", " \t"])
def test_token_with_a_line_ending_is_stripped(fake, capsys, monkeypatch, tmp_path, ending):
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN + ending)  # a token file with Windows line ends
    done = cli(capsys, *fetch_args(tmp_path / "got"))
    assert_one_line_error(done, f"{REPO} release v1: not found", code=1)
    assert [r.auth for r in fake.requests] == ["ok"]


@pytest.mark.parametrize("token", ["x-sécret-token", "x-secret-€uro", "x-secret\x01ctl", "x secret",
                                   "x-secret\r\nX-Injected: 1", "x-secret\x7f"])
def test_an_invalid_token_is_one_line_that_never_shows_it(fake, capsys, monkeypatch, tmp_path, token):
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_TOKEN", token)
    done = cli(capsys, *fetch_args(tmp_path / "got"))
    assert_one_line_error(done, "GITHUB_TOKEN: not a valid token", code=2)
    assert "secret" not in done.stdout + done.stderr and fake.requests == []


def test_the_reported_command_ends_in_one_line(tmp_path):
    """The command from the report, with a non-Latin-1 token: no traceback, no token."""
    env = {**os.environ, "GITHUB_API_URL": "http://127.0.0.1:9", "GITHUB_TOKEN": "x-secret\u0151\r"}
    done = subprocess.run([sys.executable, "-m", "ci", *fetch_args(tmp_path / "got")], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert_one_line_error(done, "GITHUB_TOKEN: not a valid token", code=2)
    assert "secret" not in done.stdout + done.stderr


# --- 2. where the token goes -----------------------------------------------------------------------------


@pytest.mark.parametrize("thief", ["127.0.0.2", "localhost"])
def test_a_next_page_on_another_host_gets_no_request(fake, tmp_path, slept, thief):
    with FakeGitHub(tmp_path / "thief", TOKEN, host=thief) as elsewhere:
        link = f'<{elsewhere.url}/repos/{REPO}/releases?page=2>; rel="next"'
        fake.fail("status", "GET", r"/releases\?", status=200, body=[], headers={"Link": link})
        with pytest.raises(GitHubError, match="refusing to send the token there"):
            client(fake, slept).find_release(REPO, "v1")
        assert elsewhere.requests == []


def test_an_asset_url_on_another_host_gets_no_request(fake, other, tmp_path, slept):
    fake.seed(REPO, "v1", {}, draft=False)
    listing = [asset_json(f"{other.url}/repos/{REPO}/releases/assets/7")]
    fake.fail("status", "GET", r"/assets\?", status=200, body=listing)
    with pytest.raises(GitHubError, match=f"the server named '{other.url}/repos/.*refusing to send the token"):
        fetch(REPO, "v1", "linux-x64", tmp_path / "got", gh=client(fake, slept))
    assert other.requests == [] and not (tmp_path / "got").exists()


def test_an_upload_url_on_another_host_gets_no_request(fake, other, slept, tmp_path):
    (tmp_path / "a.bin").write_bytes(b"a")
    fake.fail("status", "GET", r"/releases\?", status=200,
              body=[release_json(fake, upload_url=f"{other.url}/uploads/repos/{REPO}/releases/1/assets{{?name}}")])
    gh = client(fake, slept)
    with pytest.raises(GitHubError, match=r"upload of a.bin: the server named .*refusing to send the token"):
        gh.upload(gh.find_release(REPO, "v1")["upload_url"], "a.bin", tmp_path / "a.bin", 1)
    assert other.requests == []


def test_the_download_redirect_to_storage_carries_no_token(tmp_path, other, slept):
    with FakeGitHub(tmp_path / "github", TOKEN, storage=other.url) as api:
        release = api.seed(REPO, "v1", {"a.bin": b"payload" * 100})
        gh = client(api, slept)
        (asset,) = gh.list_assets(REPO, release.id)
        gh.download(asset["url"], tmp_path / "a.bin", asset["size"])
    assert (tmp_path / "a.bin").read_bytes() == b"payload" * 100
    assert [r.auth for r in api.requests] == ["ok", "ok"]
    assert [(r.path, r.auth) for r in other.requests] == [(f"/blobs/{asset['id']}", "none")]


def test_no_token_after_a_redirect_to_another_host_even_back_home(fake, other, slept):
    fake.fail("status", "GET", r"/releases\?", status=302, headers={"Location": f"{other.url}/blobs/1"})
    other.fail("status", "GET", "/blobs/1", status=302, headers={"Location": f"{fake.url}/repos/{REPO}/releases"})
    with pytest.raises(GitHubError, match="401"):
        client(fake, slept).find_release(REPO, "v1")
    assert [r.auth for r in fake.requests] == ["ok", "none"] and [r.auth for r in other.requests] == ["none"]


@pytest.mark.parametrize("location, problem", [
    ("ftp://127.0.0.1/x", "redirected to 'ftp://127.0.0.1/x', not an https URL"),
    ("/repos/o/r/releases?again", "more than 5 redirects"),
])
def test_a_bad_or_endless_redirect_is_one_error(fake, slept, location, problem):
    fake.fail("status", "GET", r"/releases\?", status=302, headers={"Location": location}, times=10)
    with pytest.raises(GitHubError, match=problem):
        client(fake, slept).find_release(REPO, "v1")
    assert len(fake.requests) <= 6


def test_a_write_is_never_redirected(fake, other, slept):
    fake.fail("status", "POST", "/releases$", status=307, headers={"Location": f"{other.url}/repos/{REPO}/releases"})
    with pytest.raises(GitHubError, match="POST /repos/o/r/releases: 307"):
        client(fake, slept).request("POST", f"/repos/{REPO}/releases", json={"tag_name": "v1"}, expect=(201,),
                                    safe=False, shape=RELEASE)
    assert other.requests == []


def test_the_token_goes_to_github_upload_host_and_nowhere_else():
    api = GitHub("https://api.github.com", TOKEN)
    upload = "https://uploads.github.com/repos/o/r/releases/1/assets?name=a"
    assert api._target(upload, "upload") == upload
    for elsewhere in ("https://uploads.github.com.evil.example/x", "http://uploads.github.com/x",
                      "https://api.github.com:8443/x", "https://objects.githubusercontent.com/x", "not a url"):
        with pytest.raises(GitHubError, match="refusing to send the token"):
            api._target(elsewhere, "upload")
    enterprise = GitHub("https://ghe.example/api/v3", TOKEN)  # GHES uploads to its own host
    assert enterprise._target("https://ghe.example/api/uploads/x", "upload")
    with pytest.raises(GitHubError):
        enterprise._target(upload, "upload")


# --- 3. a server echoing the token ----------------------------------------------------------------------


def test_a_server_echoing_the_token_is_redacted_from_errors_and_logs(fake, slept):
    logged: list[str] = []
    fake.fail("status", "GET", r"/releases\?", status=502, reason=f"Bad Gateway for {TOKEN}")
    fake.fail("status", "GET", r"/releases\?", status=403,
              body={"message": f"token {TOKEN} ({json.dumps(TOKEN)}) may not read this"})
    with pytest.raises(GitHubError) as failure:
        client(fake, slept, log=logged.append).find_release(REPO, "v1")
    text = "\n".join([failure.value.message, str(failure.value), *logged])
    assert "Bad Gateway for ***" in logged[0] and "token *** (\"***\") may not read" in failure.value.message
    assert TOKEN not in text


def test_a_token_in_what_github_sends_is_redacted(fake, slept):
    fake.fail("status", "GET", r"/releases\?", status=200, body=[release_json(fake, html_url=f"https://x/{TOKEN}")])
    assert client(fake, slept).find_release(REPO, "v1")["html_url"] == "https://x/***"


def test_a_token_in_an_error_from_the_cli_is_redacted(fake, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    fake.fail("status", "GET", r"/releases\?", status=404, body={"message": f"no repo for {TOKEN}"})
    done = cli(capsys, *fetch_args(tmp_path / "got"))
    assert_one_line_error(done, "404 no repo for ***", code=1)
    assert TOKEN not in done.stdout + done.stderr


# --- 5. deadlines and size caps -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["stall", "trickle"])
@pytest.mark.parametrize("operation", ["list", "download"])
def test_a_silent_or_trickling_server_is_given_up_at_the_deadline(fake, slept, kind, operation, tmp_path):
    release = fake.seed(REPO, "v1", {"a.bin": b"x" * 1000})
    gh = client(fake, slept, SHORT)
    (asset,) = gh.list_assets(REPO, release.id)
    fake.fail(kind, "GET", "/blobs/" if operation == "download" else r"/assets\?", times=10)
    started = time.monotonic()
    with pytest.raises(GitHubError, match=r"(no complete answer within|wait would pass) the 0.4s deadline"):
        if operation == "download":
            gh.download(asset["url"], tmp_path / "a.bin", asset["size"])
        else:
            gh.list_assets(REPO, release.id)
    assert time.monotonic() - started < 3 and slept in ([], [1.0])


def test_a_server_that_never_accepts_is_given_up_at_the_deadline(slept):
    with socket.socket() as listener:  # listens, never accepts, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        gh = GitHub(f"http://127.0.0.1:{listener.getsockname()[1]}", TOKEN, Retry(sleep=slept.append), limits=SHORT)
        started = time.monotonic()
        with pytest.raises(GitHubError, match="deadline"):
            gh.find_release(REPO, "v1")
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("size", [5000, 64 << 20])  # answered never; read never (the send blocks)
def test_an_upload_never_answered_is_uncertain_at_the_deadline(fake, slept, tmp_path, size):
    fake.seed(REPO, "v1", {})
    with open(tmp_path / "a.bin", "wb") as out:
        out.truncate(size)
    fake.fail("stall", "POST", "name=a.bin")
    gh = client(fake, slept, SHORT)
    upload_url = gh.find_release(REPO, "v1")["upload_url"]
    started = time.monotonic()
    with pytest.raises(Uncertain, match="may or may not have taken effect"):
        gh.upload(upload_url, "a.bin", tmp_path / "a.bin", size)
    assert time.monotonic() - started < 3


def test_a_wait_past_the_deadline_fails_at_once(fake, slept):
    fake.fail("status", "GET", r"/releases\?", status=429, headers={"retry-after": "30"})
    with pytest.raises(GitHubError, match=r"a 30.0s wait would pass the 10s deadline"):
        client(fake, slept, Limits(deadline=10)).find_release(REPO, "v1")
    assert slept == []


@pytest.mark.parametrize("kind", ["endless", "status"])
def test_a_download_longer_than_the_listed_size_is_cut(fake, slept, tmp_path, kind):
    release = fake.seed(REPO, "v1", {"a.bin": b"x" * 1000})
    gh = client(fake, slept)
    (asset,) = gh.list_assets(REPO, release.id)
    fake.fail(kind, "GET", "/blobs/", status=200, body=b"y" * 100_000)
    with pytest.raises(GitHubError, match=r"more than the 1000 expected|larger than the 1000 bytes expected"):
        gh.download(asset["url"], tmp_path / "a.bin", asset["size"])
    assert (tmp_path / "a.bin").stat().st_size <= 1000


def test_an_endless_json_answer_is_cut(fake, slept):
    fake.fail("endless", "GET", r"/releases\?")
    with pytest.raises(GitHubError, match="larger than the 100000 bytes expected"):
        client(fake, slept, Limits(max_json=100_000)).find_release(REPO, "v1")


def test_a_compressed_answer_is_capped_by_its_decompressed_size(fake, slept):
    bomb = gzip.compress(b"[" + b" " * (64 << 20) + b"]")  # 64 MiB of JSON in ~64 KiB
    fake.fail("status", "GET", r"/releases\?", status=200, body=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(GitHubError, match="larger than the 1000000 bytes expected"):
        client(fake, slept, Limits(max_json=1_000_000)).find_release(REPO, "v1")


def test_a_release_listing_a_huge_sums_file_is_not_downloaded(fake, slept, tmp_path):
    fake.seed(REPO, "v1", {}, draft=False)
    fake.fail("status", "GET", r"/assets\?", status=200, body=[asset_json(f"{fake.url}/x", size=10**12)])
    with pytest.raises(CiError, match="SHA256SUMS is listed at 1000000000000 bytes"):
        fetch(REPO, "v1", "linux-x64", tmp_path / "got", gh=client(fake, slept))
    assert fake.requests[-1].path.startswith(f"/repos/{REPO}/releases/1/assets")


def test_a_link_chain_without_end_is_not_followed_forever(fake, slept):
    link = f'<{fake.url}/repos/{REPO}/releases?page=2>; rel="next"'
    fake.fail("status", "GET", "/releases", status=200, body=[], headers={"Link": link}, times=1000)
    with pytest.raises(GitHubError, match="more than 100 pages"):
        client(fake, slept).find_release(REPO, "v1")
    assert len(fake.requests) == 100


def test_a_full_disk_is_one_error_naming_the_file(fake, slept):
    release = fake.seed(REPO, "v1", {"a.bin": b"x" * 1000})
    gh = client(fake, slept)
    (asset,) = gh.list_assets(REPO, release.id)
    with pytest.raises(CiError, match="/dev/full: cannot write: No space left on device"):
        gh.download(asset["url"], Path("/dev/full"), asset["size"])


def test_a_destination_that_cannot_be_made_is_one_line(fake, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    (tmp_path / "file").write_text("x")
    done = cli(capsys, *fetch_args(tmp_path / "file" / "sub" / "runtime"))
    assert_one_line_error(done, "runtime: cannot create a folder beside it: Not a directory", code=2)
    assert fake.requests == []


@pytest.mark.parametrize("repo, tag, problem", [
    ("o/r/x", "v1", "--repo: 'o/r/x': expected OWNER/NAME"),
    ("../..", "v1", "--repo: '../..': expected OWNER/NAME"),
    ("o/r", "v1\nforged line", "--tag: 'v1\\nforged line': not a tag name git accepts"),
    ("o/r", "v 1", "not a tag name git accepts"),
    ("o/r", "v1..2", "not a tag name git accepts"),
    ("o/r", "", "not a tag name git accepts"),
])
@pytest.mark.parametrize("command", ["fetch", "publish"])
def test_a_bad_repo_or_tag_is_one_line_before_any_request(fake, capsys, monkeypatch, tmp_path, repo, tag, problem,
                                                          command):
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    where = ("--rid", "linux-x64", "--dest", tmp_path / "got") if command == "fetch" else ("--dist", tmp_path)
    done = cli(capsys, command, "--repo", repo, "--tag", tag, *where)
    assert_one_line_error(done, problem, code=2)
    assert fake.requests == []


# --- retry-after as an HTTP date ---------------------------------------------------------------------


def test_retry_after_as_an_http_date_is_waited_for(fake, slept):
    when = format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)
    fake.fail("status", "GET", r"/releases\?", status=429, headers={"retry-after": when})
    client(fake, slept).find_release(REPO, "v1")
    assert slept == [30.0]


@pytest.mark.parametrize("headers", [
    {"retry-after": "\u00b2"}, {"retry-after": "9" * 5000}, {"retry-after": "Mon, 99 Foo 99999 99:99:99 GMT"},
    {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9" * 5000}, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "-5"},
])
def test_odd_rate_limit_headers_fall_back_to_backoff(fake, slept, headers):
    fake.fail("status", "GET", r"/releases\?", status=429, headers=headers)
    client(fake, slept).find_release(REPO, "v1")
    assert slept == [1.0]


# --- 11. GITHUB_API_URL ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url, problem", [
    ("not a url", "'not a url' is not an http(s) URL"),
    ("ftp://example.com/api", "is not an http(s) URL"),
    ("file:///etc/passwd", "is not an http(s) URL"),
    ("http://api.example.com", "plain http is allowed only to this machine"),
    ("https://api.example.com:99999", "is not a URL (Port out of range"),
    ("http://[::1", "is not a URL"),
    ("https://api.example.com/?x=1", "has a query or fragment"),
    ("https://api exa.com", "holds spaces or control characters"),
    ("https://api.example.com/\r\nX: 1", "holds spaces or control characters"),
])
def test_a_bad_api_url_is_one_line(capsys, monkeypatch, tmp_path, url, problem):
    monkeypatch.setenv("GITHUB_API_URL", url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    done = cli(capsys, *fetch_args(tmp_path / "got"))
    assert_one_line_error(done, "GITHUB_API_URL", problem, code=2)


def test_an_api_url_with_credentials_is_refused_without_showing_them(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_API_URL", "https://me:pa55word@api.example.com")
    done = cli(capsys, *fetch_args(tmp_path / "got"))
    assert_one_line_error(done, "GITHUB_API_URL: holds credentials", code=2)
    assert "pa55word" not in done.stderr


# --- 12. malformed answers ---------------------------------------------------------------------------------

_NOT_JSON = "the answer is not JSON"
_ODD = "unexpected answer at"


def _release(**fields) -> list:
    return [{"id": 1, "tag_name": "v1", "draft": False, "upload_url": "u"} | fields]


def _without(key: str) -> list:
    return [{k: v for k, v in _release()[0].items() if k != key}]


_MALFORMED = [
    ("releases", b"<html>busy</html>", _NOT_JSON),
    ("releases", b"", _NOT_JSON),
    ("releases", b'[{"id": 1, "tag_', _NOT_JSON),
    ("releases", b"\xff\xfe[]", _NOT_JSON),
    ("releases", b"[" * 100_000 + b"]" * 100_000, _NOT_JSON),
    ("releases", b'[{"id": ' + b"9" * 5000 + b"}]", _NOT_JSON),
    ("releases", {"message": "hello"}, f"{_ODD} the top level: expected type array"),
    ("releases", [1], f"{_ODD} 0: expected type object"),
    ("releases", _without("tag_name"), f"{_ODD} 0: 'tag_name' is a required property"),
    ("releases", _release(tag_name=123), f"{_ODD} 0/tag_name: expected type string"),
    ("releases", _release(id="1"), f"{_ODD} 0/id: expected type integer"),
    ("releases", _release(draft="false"), f"{_ODD} 0/draft: expected type boolean"),
    ("releases", _release(upload_url=None), f"{_ODD} 0/upload_url: expected type string"),
    ("releases", b'[{"id": NaN, "tag_name": "v1", "draft": false, "upload_url": "u"}]',
     f"{_ODD} 0/id: expected type integer"),
    ("releases", _release(id=True), f"{_ODD} 0/id: expected type integer"),
    ("assets", [{"id": 7, "name": "a", "state": "uploaded", "size": -1, "url": "u"}], f"{_ODD} 0/size: expected minimum 0"),
    ("assets", [{"id": 7, "name": "a", "size": 1, "url": "u"}], f"{_ODD} 0: 'state' is a required property"),
    ("assets", [{"id": 7, "name": "", "state": "uploaded", "size": 1, "url": "u"}], f"{_ODD} 0/name: expected minLength 1"),
    ("assets", [{"id": 7, "name": "a", "state": "uploaded", "size": 1, "url": "u", "digest": 5}],
     f"{_ODD} 0/digest: expected text or null"),
    ("assets", [{"id": 7, "name": "a", "state": "uploaded", "size": 1, "url": []}], f"{_ODD} 0/url: expected type string"),
    ("assets", {"assets": []}, f"{_ODD} the top level: expected type array"),
    ("assets", [{"id": 7, "name": "a", "state": "up\nloaded", "size": 1, "url": "u"}],
     f"{_ODD} 0/state: holds control characters"),
    ("releases", _release(html_url=5), f"{_ODD} 0/html_url: expected text or null"),
    ("releases", _release(tag_name="v" * 5000), f"{_ODD} 0/tag_name: expected maxLength 2048"),
]


@pytest.mark.parametrize("endpoint, body, problem", _MALFORMED)
def test_a_malformed_answer_is_one_line(fake, capsys, monkeypatch, tmp_path, endpoint, body, problem):
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    fake.seed(REPO, "v1", {}, draft=False)
    fake.fail("status", "GET", rf"/{endpoint}\?", status=200, body=body)
    done = cli(capsys, *fetch_args(tmp_path / "got"))
    path = f"/repos/{REPO}/releases" + ("/1/assets" if endpoint == "assets" else "")
    assert_one_line_error(done, f"GitHub: GET {path}: {problem}", code=1)


@pytest.mark.parametrize("body, problem", [
    ({}, "'id' is a required property"), ("created", "expected type object"), (b"{", _NOT_JSON)])
def test_a_malformed_answer_to_a_write_is_one_error(fake, slept, tmp_path, body, problem):
    release = fake.seed(REPO, "v1", {})
    gh = client(fake, slept)
    fake.fail("status", "POST", "/releases$", status=201, body=body)
    with pytest.raises(GitHubError, match=problem):
        gh.request("POST", f"/repos/{REPO}/releases", json={"tag_name": "v2"}, expect=(201,), safe=False,
                   shape=RELEASE)
    (tmp_path / "a.bin").write_bytes(b"a")
    fake.fail("status", "POST", "name=a.bin", status=201, body=body)
    with pytest.raises(GitHubError, match=problem):
        gh.upload(release_json(fake, release.id)["upload_url"], "a.bin", tmp_path / "a.bin", 1)
