"""ci.github: backoff, rate limits, what is retried and what is not, pagination, and a token that never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.release.answers import RELEASE
from ci.release.github import GitHub, GitHubError, Retry, Uncertain, expand_upload_url
from tests.fake_github import FakeGitHub

TOKEN = "ghp_UNITtoken9876543210secret"
NOW = 1_700_000_000.0


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with FakeGitHub(tmp_path / "github", TOKEN) as server:
        yield server


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def gh(fake: FakeGitHub, slept: list[float]) -> GitHub:
    return GitHub(fake.url, TOKEN, Retry(sleep=slept.append, clock=lambda: NOW, rand=lambda: 1.0))


def test_backoff_is_exponential_with_full_jitter_and_capped():
    retry = Retry(base=1.0, cap=10.0, rand=lambda: 0.5)
    assert [retry.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert Retry(rand=lambda: 0.0).backoff(3) == 0.0  # full jitter reaches down to no wait


def test_upload_url_template_is_expanded():
    template = "https://uploads.example/repos/o/r/releases/1/assets{?name,label}"
    assert expand_upload_url(template, name="a b+c.tar.gz") == \
        "https://uploads.example/repos/o/r/releases/1/assets?name=a%20b%2Bc.tar.gz"
    assert expand_upload_url(template) == "https://uploads.example/repos/o/r/releases/1/assets"


def test_pagination_asks_for_100_and_follows_link(gh, fake):
    for i in range(250):
        fake.seed("o/r", f"v{i}", {})
    assert len(list(gh.paginate("/repos/o/r/releases", RELEASE))) == 250
    assert [r.path.partition("?")[2] for r in fake.requests] == [
        "per_page=100", "per_page=100&page=2", "per_page=100&page=3"]


def test_5xx_on_a_safe_request_is_retried_with_backoff(gh, fake, slept):
    fake.fail("status", "GET", "/releases", status=502, times=2)
    assert list(gh.paginate("/repos/o/r/releases", RELEASE)) == []
    assert slept == [1.0, 2.0] and gh.counts == {"GET": 3}


def test_attempts_are_bounded(gh, fake, slept):
    fake.fail("status", "GET", "/releases", status=503, times=10)
    with pytest.raises(GitHubError, match=r"GET /repos/o/r/releases: 503 .*6 attempts"):
        gh.find_release("o/r", "v1")
    assert len(fake.requests) == 6 and slept == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_dropped_connection_is_retried_only_when_safe(gh, fake, slept):
    fake.fail("drop", "GET", "/releases")
    assert gh.find_release("o/r", "v1") is None and slept == [1.0]
    fake.fail("drop", "POST", "/releases")
    with pytest.raises(Uncertain, match="may or may not have taken effect"):
        gh.request("POST", "/repos/o/r/releases", json={"tag_name": "v1"}, expect=(201,), safe=False)
    assert [r.method for r in fake.requests] == ["GET", "GET", "POST"] and slept == [1.0]


def test_5xx_on_an_unsafe_request_is_left_to_the_caller(gh, fake, slept):
    fake.fail("status", "POST", "/releases", status=500)
    with pytest.raises(Uncertain):
        gh.request("POST", "/repos/o/r/releases", json={"tag_name": "v1"}, expect=(201,), safe=False)
    assert len(fake.requests) == 1 and slept == []


def test_rate_limit_waits_for_reset_even_on_an_unsafe_request(gh, fake, slept):
    fake.fail("status", "POST", "/releases", status=403, body={"message": "API rate limit exceeded"},
              headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 42)})
    gh.request("POST", "/repos/o/r/releases", json={"tag_name": "v1", "draft": True}, expect=(201,), safe=False)
    assert slept == [42.0] and len(fake.releases) == 1


def test_secondary_rate_limit_without_retry_after_waits_a_minute(gh, fake, slept):
    fake.fail("status", "GET", "/releases", status=403,
              body={"message": "You have exceeded a secondary rate limit"})
    gh.find_release("o/r", "v1")
    assert slept == [60.0]


def test_other_403_is_not_retried(gh, fake, slept):
    fake.fail("status", "GET", "/releases", status=403, body={"message": "Resource not accessible by integration"})
    with pytest.raises(GitHubError, match="403 Resource not accessible by integration"):
        gh.find_release("o/r", "v1")
    assert len(fake.requests) == 1 and slept == []


def test_bad_credentials_is_one_error_without_the_token(fake, slept):
    bad = "ghp_notTheRightOne"
    gh = GitHub(fake.url, bad, Retry(sleep=slept.append))
    with pytest.raises(GitHubError) as failure:
        gh.find_release("o/r", "v1")
    assert failure.value.message == "GitHub rejected the token (401 Bad credentials) for GET /repos/o/r/releases"
    assert len(fake.requests) == 1 and slept == [] and fake.requests[0].auth == "bad"
    assert bad not in repr(gh) + repr(gh.session.auth) + repr(vars(gh)) and "***" in repr(gh)


def test_download_follows_the_redirect_to_storage(gh, fake, tmp_path):
    release = fake.seed("o/r", "v1", {"a.bin": b"payload" * 1000})
    (asset,) = gh.list_assets("o/r", release.id)
    gh.download(asset["url"], tmp_path / "a.bin", asset["size"])
    assert (tmp_path / "a.bin").read_bytes() == b"payload" * 1000
    paths = [r.path for r in fake.requests][-2:]
    assert paths == [f"/repos/o/r/releases/assets/{asset['id']}", f"/blobs/{asset['id']}"]
