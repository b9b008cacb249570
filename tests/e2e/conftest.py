"""Fixtures shared by the end-to-end tests: a local GitHub on a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ci.release import github
from ci.release.github import Retry
from tests.fake_github import TOKEN, FakeClock, FakeGitHub


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Retries wait on a fake clock; rand=1 makes the jittered backoff its ceiling: 1, 2, 4 ... s."""
    fake = FakeClock()
    monkeypatch.setattr(github, "DEFAULT_RETRY", Retry(sleep=fake.sleep, clock=fake.time, rand=lambda: 1.0))
    return fake


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Iterator[FakeGitHub]:
    """A local GitHub API server with a token, reached through the environment as in CI."""
    with FakeGitHub(tmp_path / "github", TOKEN) as server:
        monkeypatch.setenv("GITHUB_API_URL", server.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        for name in ("GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
            monkeypatch.delenv(name, raising=False)
        yield server
