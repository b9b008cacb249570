"""`python -m ci push-nuget`: the real `dotnet nuget push` against a local v3 feed with faults; each
package lands exactly once, a rerun changes nothing, and the key goes only to the feed."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import assert_one_line_error, run_ci
from tests.fake_nuget import API_KEY, FakeNuGet


@pytest.fixture
def dist(pipeline, tmp_path):
    copy = tmp_path / "dist"
    shutil.copytree(pipeline["dist"], copy)
    return copy


def _push(dist, feed: FakeNuGet, key: str = API_KEY, *extra: str):
    # An http feed must be allowed in NuGet.Config (NuGet refuses plain HTTP otherwise).
    (dist.parent / "nuget.config").write_text(
        f'<configuration><packageSources><clear /><add key="test-feed" value="{feed.index}" '
        'allowInsecureConnections="true" /></packageSources></configuration>\n')
    return run_ci("push-nuget", "--dist", dist, "--source", "test-feed", *extra, cwd=dist.parent,
                  env={"NUGET_API_KEY": key})


def _nupkgs(dist) -> set[str]:
    return {p.name for p in dist.glob("*.nupkg")}


def test_every_package_lands_once_and_a_rerun_pushes_nothing_new(dist):
    with FakeNuGet() as feed:
        first = _push(dist, feed, API_KEY, "--json")
        assert first.returncode == 0, first.stdout + first.stderr
        assert {p["name"] for p in json.loads(first.stdout)["packages"]} == _nupkgs(dist)
        again = _push(dist, feed, API_KEY, "--json")
        assert again.returncode == 0, again.stdout + again.stderr
    assert {p["action"] for p in json.loads(again.stdout)["packages"]} == {"already there"}
    assert len(feed.stored) == len(_nupkgs(dist))
    assert [p.status for p in feed.pushes] == [201] * len(feed.stored) + [409] * len(feed.stored)
    for done in (first, again):
        assert API_KEY not in done.stdout + done.stderr


@pytest.mark.parametrize("fault", ["status:503", "drop", "drop_after_store"])
def test_a_fault_on_a_push_is_retried_by_the_client_and_the_package_lands_once(dist, fault):
    with FakeNuGet() as feed:
        feed.fail(fault)
        done = _push(dist, feed)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(feed.stored) == len(_nupkgs(dist))
    assert feed.pushes[0].status != 201 and feed.pushes[1].package == feed.pushes[0].package
    assert API_KEY not in done.stdout + done.stderr


def test_a_wrong_key_fails_in_one_line_without_the_key(dist):
    with FakeNuGet() as feed:
        done = _push(dist, feed, "wrong-key-SECRET-value")
    assert_one_line_error(done, "push-nuget: RuntimeBase.Runtime.linux-x64.", "dotnet nuget push exited 1", code=1)
    assert "wrong-key-SECRET-value" not in done.stdout + done.stderr
    assert not feed.stored and {p.key for p in feed.pushes} == {"wrong-key-SECRET-value"}


def test_a_package_that_does_not_match_sha256sums_is_not_pushed(dist):
    (name,) = _nupkgs(dist)
    (dist / name).write_bytes((dist / name).read_bytes() + b"\0")
    with FakeNuGet() as feed:
        done = _push(dist, feed)
    assert_one_line_error(done, name, "does not match SHA256SUMS")
    assert feed.pushes == []
