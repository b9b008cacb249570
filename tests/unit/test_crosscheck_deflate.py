"""crosscheck names the deflate implementation of each side when archives differ."""

from __future__ import annotations

import json

from ci.containers.crosscheck import compare_dists, explanation
from ci.redist.archive import deflate_implementation, write_tar_gz


def _dist(root, payload: bytes, compression: dict | None):
    root.mkdir(parents=True)
    manifest = json.dumps({"rid": "linux-x64", **({"compression": compression} if compression else {})})
    (root / "m.json").write_text(manifest)
    (root / "lib.so").write_bytes(payload)
    write_tar_gz(root / "runtime-base-1-linux-x64.tar.gz", {"lib/lib.so": root / "lib.so", "manifest.json": root / "m.json"}, 0)
    (root / "runtime-base-1-linux-x64.manifest.json").write_text(manifest)
    (root / "m.json").unlink()
    (root / "lib.so").unlink()
    return root


def test_differing_archives_name_both_deflates(tmp_path):
    here = deflate_implementation()
    assert here["format"] == "deflate" and here["level"] == 6 and here["library"] in ("zlib", "zlib-ng")
    other = {**here, "library": "zlib-ng", "version": "2.2.4.zlib-ng"}
    result = compare_dists(_dist(tmp_path / "host", b"a", here), _dist(tmp_path / "box", b"b", other), tmp_path / "n")
    archive = next(f for f in result["files"] if f["name"].endswith(".tar.gz"))
    assert archive["deflate"] == {"host": f"{here['library']} {here['version']} level 6",
                                  "container": "zlib-ng 2.2.4.zlib-ng level 6"}
    assert any("different implementations" in line for line in explanation(result))


def test_a_dist_without_the_record_says_so(tmp_path):
    result = compare_dists(_dist(tmp_path / "host", b"a", None), _dist(tmp_path / "box", b"b", None), tmp_path / "n")
    archive = next(f for f in result["files"] if f["name"].endswith(".tar.gz"))
    assert archive["deflate"] == {"host": "not recorded", "container": "not recorded"}
