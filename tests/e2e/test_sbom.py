"""The CycloneDX SBOM each package ships in dist/: valid, complete, reproducible, attested and published."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ci.redist.checksums import SUMS, read_sums
from ci.release.publish import collect
from tests.conftest import REPO, run_ci


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("sbom")
    for rid in ("linux-x64", "win-arm64"):
        for args in (["build", "--platform", rid, "--out", root / rid], ["package", "--build", root / rid, "--dist", root / "dist"]):
            done = run_ci(*args)
            assert done.returncode == 0, done.stdout + done.stderr
    return {"root": root, "dist": root / "dist"}


def _sbom(dist: dict, rid: str) -> tuple[Path, dict]:
    (path,) = dist["dist"].glob(f"runtime-base-*-{rid}.cdx.json")
    return path, json.loads(path.read_text())


@pytest.mark.parametrize("rid", ["linux-x64", "win-arm64"])
def test_sbom_is_valid_cyclonedx_and_a_damaged_one_is_not(dist, rid):
    path, bom = _sbom(dist, rid)
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    assert validator.validate_str(path.read_text()) is None
    bom["components"][0]["hashes"][0]["alg"] = "SHA-257"
    assert validator.validate_str(json.dumps(bom)) is not None


def test_sbom_names_runtime_source_toolchain_and_static_inputs(dist):
    path, bom = _sbom(dist, "linux-x64")
    manifest = json.loads(path.with_name(path.name.replace(".cdx.json", ".manifest.json")).read_text())
    runtime = bom["metadata"]["component"]
    library = dist["root"] / "linux-x64" / manifest["library"]
    assert (runtime["name"], runtime["version"], runtime["type"]) == ("Runtime.Base", manifest["version"], "library")
    assert runtime["hashes"] == [{"alg": "SHA-256", "content": _sha256(library)}]
    assert runtime["pedigree"]["commits"][0]["uid"] == manifest["source"]["commit"]
    properties = {p["name"]: p["value"] for p in runtime["properties"]}
    assert properties["runtime-base:source"] == "reference" and properties["runtime-base:soname"] == manifest["soname"]

    gcc_version = subprocess.run(["x86_64-linux-gnu-gcc", "-dumpfullversion"], capture_output=True, text=True,
                                 check=True).stdout.strip()
    tools = {t["name"]: t["version"] for t in bom["metadata"]["tools"]["components"]}
    assert tools["x86_64-linux-gnu-gcc"] == gcc_version and "GNU objcopy" in tools

    inputs = {c["name"]: c["hashes"][0]["content"] for c in bom["components"]}
    assert inputs["src/gc.c"] == _sha256(REPO / "reference/runtime/src/gc.c")
    libgcc = Path(subprocess.run(["x86_64-linux-gnu-gcc", "-print-libgcc-file-name"], capture_output=True, text=True,
                                 check=True).stdout.strip())
    assert inputs["libgcc.a"] == _sha256(libgcc)
    (depends,) = [d["dependsOn"] for d in bom["dependencies"] if d["ref"] == runtime["bom-ref"]]
    assert sorted(depends) == sorted(c["bom-ref"] for c in bom["components"])


def test_arm64_windows_sbom_names_clang_lld_and_the_winrt_support_library(dist):
    _, bom = _sbom(dist, "win-arm64")
    assert {t["name"] for t in bom["metadata"]["tools"]["components"]} == {"Debian clang", "Debian LLD"}
    assert "winrt.lib" in {c["name"] for c in bom["components"]}


def test_sbom_is_reproducible_summed_attested_and_published(dist, tmp_path):
    path, _ = _sbom(dist, "linux-x64")
    again = tmp_path / "again"
    done = run_ci("package", "--build", dist["root"] / "linux-x64", "--dist", again)
    assert done.returncode == 0, done.stderr
    assert (again / path.name).read_bytes() == path.read_bytes()

    assert read_sums(dist["dist"] / SUMS)[path.name] == _sha256(path)
    done = run_ci("provenance", "--dist", dist["dist"])
    assert done.returncode == 0, done.stderr
    statement = json.loads((dist["dist"] / "provenance.intoto.json").read_text())
    assert {"name": path.name, "digest": {"sha256": _sha256(path)}} in statement["subject"]
    assert path.name in {asset.name for asset in collect(dist["dist"])}
