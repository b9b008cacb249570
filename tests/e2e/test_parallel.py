"""`--platform all` runs the platforms side by side: the packages are the bytes a one-at-a-time run makes."""

from __future__ import annotations

from tests.conftest import run_ci


def _dist(root, jobs: str) -> dict[str, bytes]:
    done = run_ci("pipeline", "--platform", "all", "--check", "verify", "--jobs", jobs,
                  "--build-dir", root / "build", "--dist", root / "dist", env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert done.returncode == 0, done.stdout + done.stderr
    return {p.name: p.read_bytes() for p in sorted((root / "dist").iterdir())
            if p.is_file() and p.name != "report.json"}


def test_platforms_in_parallel_make_the_same_bytes_as_one_at_a_time(tmp_path):
    one_at_a_time = _dist(tmp_path / "sequential", "1")
    side_by_side = _dist(tmp_path / "parallel", "4")
    assert len(one_at_a_time) == 4 * 5 + 1 + 4  # per rid: archive, symbols, manifest copy, SBOM, runtime pack; SHA256SUMS; a stamp per rid
    assert one_at_a_time == side_by_side


def test_jobs_must_be_a_positive_number(tmp_path):
    done = run_ci("pipeline", "--jobs", "0", "--dist", tmp_path / "dist")
    assert done.returncode == 2 and "not a positive whole number" in done.stderr
