"""Benchmark, from a checkout: publish ~1 GiB to the local fake GitHub, versus curl uploading the same bytes;
then download it back (size-capped, deadline-checked reads), versus curl downloading it.

    python -m benchmarks.publish [--gib 1] [--files 4]

Both upload to the same endpoint of the same server (tests/fake_github.py), one file at a time. The
publish time includes what curl does not do: hashing every file against SHA256SUMS first, the
release and asset listings, and the final verification; the sha256 check is also timed on its own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ci.redist.checksums import write_sums
from ci.release.github import GitHub
from ci.release.provenance import write_provenance
from ci.release.publish import collect, publish

TOKEN = "bench-token"
REPO = "bench/runtime"
_BLOCK = 1 << 20


def _make_dist(dist: Path, total: int, files: int) -> None:
    dist.mkdir()
    block = os.urandom(_BLOCK)  # incompressible, and no time spent generating randomness
    for i in range(files):
        with open(dist / f"runtime-base-0.0.0-bench{i}.tar.gz", "wb") as out:
            for _ in range(total // files // _BLOCK):
                out.write(block)
    write_sums(dist, [p.name for p in dist.iterdir()])
    write_provenance(dist, {})


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _download_all(gh: GitHub, assets: list[dict[str, Any]], dest: Path) -> None:
    for asset in assets:
        gh.download(asset["url"], dest, asset["size"])


def _curl_all(paths: list[Path], upload_url: str) -> None:
    for path in paths:
        subprocess.run(["curl", "-sS", "--fail", "-o", os.devnull, "-H", f"Authorization: Bearer {TOKEN}",
                        "-H", "Content-Type: application/octet-stream", "--data-binary", f"@{path}",
                        f"{upload_url}?name={path.name}"], check=True)


def main(argv: list[str] | None = None) -> int:
    from tests.fake_github import FakeGitHub  # test infrastructure: run from a checkout

    parser = argparse.ArgumentParser(prog="python -m benchmarks.publish", description=__doc__)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--files", type=int, default=4)
    args = parser.parse_args(argv)
    total = int(args.gib * (1 << 30))
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        dist = Path(tmp) / "dist"
        _make_dist(dist, total, args.files)
        archives = sorted(dist.glob("*.tar.gz"))
        size = sum(p.stat().st_size for p in archives)
        hashing = _timed(lambda: collect(dist))
        with FakeGitHub(Path(tmp) / "github", TOKEN) as fake:
            gh = GitHub(fake.url, TOKEN)
            published = _timed(lambda: publish(dist, REPO, "v-publish", gh=gh))
            requests = dict(gh.counts)
            release = fake.seed(REPO, "v-curl", {})
            curl = _timed(lambda: _curl_all(archives, f"{fake.url}/uploads/repos/{REPO}/releases/{release.id}/assets"))
            assets = [a for a in gh.list_assets(REPO, fake.release("v-publish").id) if a["name"].endswith(".tar.gz")]
            got = Path(tmp) / "got"
            fetched = _timed(lambda: _download_all(gh, assets, got))
            curl_get = _timed(lambda: [subprocess.run(["curl", "-sS", "--fail", "-L", "-o", str(got), "-H",
                                                       "Accept: application/octet-stream", "-H",
                                                       f"Authorization: Bearer {TOKEN}", a["url"]], check=True)
                                       for a in assets])
    mib = size / (1 << 20)
    print(f"{size} bytes in {len(archives)} files")
    print(f"publish: {published:.2f}s ({mib / published:.0f} MiB/s), of which sha256 check ~{hashing:.2f}s; "
          f"requests {requests}")
    print(f"curl:    {curl:.2f}s ({mib / curl:.0f} MiB/s)")
    print(f"ratio publish/curl: {published / curl:.2f} (without the sha256 check: {(published - hashing) / curl:.2f})")
    print(f"download: {fetched:.2f}s ({mib / fetched:.0f} MiB/s); curl: {curl_get:.2f}s ({mib / curl_get:.0f} MiB/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
