"""A session's job summary written inside its container reaches the runner's GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import pytest

from ci.containers import engine
from ci.platforms import get_platform

pytestmark = pytest.mark.e2e


def test_the_job_summary_written_in_the_container_reaches_the_host(tmp_path, monkeypatch):
    host_summary = tmp_path / "step_summary"
    host_summary.write_text("## written on the host\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(host_summary))
    script = 'echo "| rid | status |" >> "$GITHUB_STEP_SUMMARY"; echo "$GITHUB_STEP_SUMMARY"'
    with engine._container(engine.base_image("x64"), ["sh", "-c", script], get_platform("linux-x64")) as box:
        box.start()
        assert box.wait()["StatusCode"] == 0
        assert box.logs().decode().strip() == engine.SUMMARY  # not the host's path
        engine.forward_summary(box, {"GITHUB_STEP_SUMMARY": str(host_summary)})
    assert host_summary.read_text() == "## written on the host\n| rid | status |\n"


def test_a_session_that_writes_no_summary_leaves_the_hosts_as_it_was(tmp_path):
    host_summary = tmp_path / "step_summary"
    host_summary.write_text("## written on the host\n")
    with engine._container(engine.base_image("x64"), ["true"], get_platform("linux-x64")) as box:
        box.start()
        assert box.wait()["StatusCode"] == 0
        engine.forward_summary(box, {"GITHUB_STEP_SUMMARY": str(host_summary)})
    assert host_summary.read_text() == "## written on the host\n"
