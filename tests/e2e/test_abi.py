"""ABI between releases: builds of patched copies of the reference runtime, their verdicts, and
what the real loader does with apps built against the baseline."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ci.cli import main as cli_main
from ci.redist.checksums import SUMS
from ci.redist.unpack import unpack
from ci.release.provenance import write_provenance
from tests.conftest import REPO, assert_one_line_error, run_ci

RID = "linux-x64"
EPOCH = {"SOURCE_DATE_EPOCH": "1767225600"}  # the copies are not git checkouts
HEADER = "reference/runtime/include/RuntimeBase.h"
EXPORTS = "packaging/runtime-base-exports.txt"

# Each variant: its version, and text edits (file -> [(old, new)]) applied to a copy of the checkout.
VARIANTS: dict[str, tuple[str, dict[str, list[tuple[str, str]]]]] = {
    "baseline": ("10.0.0-ref.1", {}),
    "added": ("10.1.0-ref.1", {
        EXPORTS: [("RhGetRuntimeVersion\n", "RhGetRuntimeVersion\nRhGetRuntimeMajorVersion @10.1\n")],
        HEADER: [("RUNTIME_BASE_API const char *RhGetRuntimeVersion(void);",
                  "RUNTIME_BASE_API const char *RhGetRuntimeVersion(void);\n"
                  "RUNTIME_BASE_API int32_t RhGetRuntimeMajorVersion(void);")],
        "reference/runtime/src/init.c": [("RUNTIME_BASE_API const char *RhGetRuntimeVersion(void)",
                                          "RUNTIME_BASE_API int32_t RhGetRuntimeMajorVersion(void)\n{\n    return 10;\n}\n\n"
                                          "RUNTIME_BASE_API const char *RhGetRuntimeVersion(void)")],
    }),
    "removed": ("10.1.0-ref.1", {
        EXPORTS: [("RhGetProcessCpuCount\n", "")],
        HEADER: [("RUNTIME_BASE_API int32_t RhGetProcessCpuCount(void);\n", "")],
    }),
    "struct": ("10.1.0-ref.1", {
        HEADER: [("    uint64_t frozen_segment_count;\n",
                  "    uint64_t frozen_segment_count;\n    uint64_t pinned_bytes;\n")],
    }),
    "private": ("10.0.1-ref.1", {  # a type only the runtime's own sources define
        "reference/runtime/src/modules.c": [("struct RhTypeManager {\n", "struct RhTypeManager {\n    long added;\n")],
    }),
}
VARIANTS["removed-major"] = ("11.0.0-ref.1", VARIANTS["removed"][1])
# The same export in the node 10.0 already had (no @10.1): an app needing it would start on 10.0.
VARIANTS["added-old-node"] = ("10.1.0-ref.1", {
    **VARIANTS["added"][1], EXPORTS: [("RhGetRuntimeVersion\n", "RhGetRuntimeVersion\nRhGetRuntimeMajorVersion\n")]})


def _checkout_copy(dest: Path, version: str, edits: dict[str, list[tuple[str, str]]]) -> Path:
    """The parts of the checkout a build needs, with the variant's patch applied."""
    for part in ("ci", "reference", "packaging"):
        shutil.copytree(REPO / part, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(REPO / "pyproject.toml", dest / "pyproject.toml")
    (dest / "reference/runtime/VERSION").write_text(version + "\n")
    for name, replacements in edits.items():
        text = (dest / name).read_text()
        for old, new in replacements:
            assert text.count(old) == 1, (name, old)
            text = text.replace(old, new)
        (dest / name).write_text(text)
    return dest


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """Each variant built and packaged from its own patched copy: name -> {checkout, build, dist}."""
    root = tmp_path_factory.mktemp("abi")
    built = {}
    for name, (version, edits) in VARIANTS.items():
        checkout = _checkout_copy(root / name / "checkout", version, edits)
        build, dist = root / name / "build", root / name / "dist"
        for args in (["build", "--platform", RID, "--out", build], ["package", "--build", build, "--dist", dist]):
            done = run_ci(*args, cwd=checkout, env=EPOCH)
            assert done.returncode == 0, (name, done.stdout + done.stderr)
        built[name] = {"checkout": checkout, "build": build, "dist": dist,
                       "archive": dist / f"runtime-base-{version}-{RID}.tar.gz"}
    return built


@pytest.fixture(scope="module")
def baseline_apps(releases, tmp_path_factory) -> Path:
    """The sample apps, linked against the baseline package."""
    out = tmp_path_factory.mktemp("abi-apps") / "apps"
    done = run_ci("apps", "--platform", RID, "--package", releases["baseline"]["archive"], "--out", out)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _abi(releases, old: str, new: str) -> tuple[int, dict]:
    done = run_ci("abi", "--old", releases[old]["dist"], "--new", releases[new]["dist"], "--json")
    assert done.returncode in (0, 1), done.stderr
    (result,) = json.loads(done.stdout)["results"]
    return done.returncode, result


def test_an_added_export_is_compatible(releases):
    code, result = _abi(releases, "baseline", "added")
    assert (code, result["verdict"]) == (0, "compatible")
    assert result["exports"]["added"] == ["RhGetRuntimeMajorVersion"]
    assert result["exports"]["removed"] == []
    assert (result["types"]["compared"], result["types"]["changed"]) == (True, False)
    assert "0 Changed" in result["types"]["report"]  # abidiff ran over the split symbols and found no type change


def test_an_export_added_to_an_old_version_node_is_breaking(releases):
    code, result = _abi(releases, "baseline", "added-old-node")
    assert (code, result["verdict"]) == (1, "breaking")
    assert result["exports"]["added_to_old_node"] == ["RhGetRuntimeMajorVersion"]
    assert result["problems"] == [f"{RID}: breaking ABI change from 10.0.0-ref.1 to 10.1.0-ref.1 without a major "
                                  "version bump (major 10 -> 10)"]
    code, result = _abi(releases, "baseline", "added")  # in its own node RUNTIME_BASE_10.1: compatible
    assert result["exports"]["added_to_old_node"] == [] and code == 0


def test_a_removed_export_is_breaking_and_needs_a_new_major(releases):
    code, result = _abi(releases, "baseline", "removed")
    assert (code, result["verdict"]) == (1, "breaking")
    assert result["exports"]["removed"] == ["RhGetProcessCpuCount"]
    assert result["problems"] == [f"{RID}: breaking ABI change from 10.0.0-ref.1 to 10.1.0-ref.1 without a major "
                                  "version bump (major 10 -> 10)"]
    code, result = _abi(releases, "baseline", "removed-major")
    assert (code, result["verdict"], result["problems"]) == (0, "breaking", [])
    assert (result["old"]["soname"], result["new"]["soname"]) == ("libRuntime.Base.so.10", "libRuntime.Base.so.11")


def test_a_changed_public_struct_is_breaking_by_type(releases):
    code, result = _abi(releases, "baseline", "struct")
    assert (code, result["verdict"]) == (1, "breaking-by-type")
    assert result["exports"] == {"added": [], "added_to_old_node": [], "removed": [], "kind_changed": [], "version_changed": [],
                                 "ordinal_changed": []}
    assert "RhGetMemoryInfo" in result["types"]["report"] and "pinned_bytes" in result["types"]["report"]


def test_a_changed_private_struct_is_compatible(releases):
    code, result = _abi(releases, "baseline", "private")
    assert (code, result["verdict"]) == (0, "compatible")
    assert result["types"]["compared"] and "filtered out" in result["types"]["report"]  # seen, but not public


def test_package_with_previous_refuses_a_break_without_a_major_bump(releases, tmp_path):
    old = releases["baseline"]["archive"]  # a package archive as OLD; its symbols archive sits beside it
    for name in ("removed", "struct"):
        dist = tmp_path / name
        done = run_ci("package", "--build", releases[name]["build"], "--dist", dist, "--previous", old,
                      cwd=releases[name]["checkout"], env=EPOCH)
        assert_one_line_error(done, "without a major version bump", code=1)
        assert not dist.exists()  # refused before anything was written
    done = run_ci("package", "--build", releases["added"]["build"], "--dist", tmp_path / "added", "--previous", old,
                  cwd=releases["added"]["checkout"], env=EPOCH)
    assert done.returncode == 0 and f"ABI against {old}: {RID} compatible" in done.stdout, done.stdout + done.stderr


def _swap_runtime(baseline_apps: Path, release: dict[str, Path], dest: Path) -> Path:
    """A copy of the baseline app set whose runtime/ is another release's unpacked package."""
    shutil.copytree(baseline_apps, dest, symlinks=True)
    shutil.rmtree(dest / "runtime")
    unpack(release["archive"], dest / "runtime")
    return dest


def test_apps_built_against_n_run_against_a_compatible_n_plus_1(releases, baseline_apps, tmp_path):
    apps = _swap_runtime(baseline_apps, releases["added"], tmp_path / "apps")
    done = run_ci("smoke", "--apps", apps, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout)["results"]
    assert {r["app"] for r in results} == {"hello", "alloc", "threads", "plugin_host"}
    assert {r["exit"] for r in results} == {0}


def test_apps_built_against_n_fail_with_a_loader_message_against_an_incompatible_one(releases, baseline_apps,
                                                                                    tmp_path):
    same_major = _swap_runtime(baseline_apps, releases["removed"], tmp_path / "same-major")
    done = subprocess.run([same_major / "bin" / "hello"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "symbol lookup error" in done.stderr and "undefined symbol: RhGetProcessCpuCount, version RUNTIME_BASE_10.0" in done.stderr

    new_major = _swap_runtime(baseline_apps, releases["removed-major"], tmp_path / "new-major")
    done = subprocess.run([new_major / "bin" / "hello"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 127
    assert ("error while loading shared libraries: libRuntime.Base.so.10: cannot open shared object file"
            in done.stderr), done.stderr


def _publishable(release: dict[str, Path], dest: Path) -> Path:
    dist = Path(shutil.copytree(release["dist"], dest, ignore=shutil.ignore_patterns(".*")))
    write_provenance(dist, {})
    return dist


def test_publish_with_previous_release_refuses_a_break_and_lists_compatible_changes(releases, fake, tmp_path):
    baseline = releases["baseline"]["dist"]
    archive = releases["baseline"]["archive"].name
    fake.seed("octo/runtime", "v10.0.0", {name: (baseline / name).read_bytes() for name in
                                           (SUMS, archive, archive.replace(".tar.gz", "-symbols.tar.gz"))}, draft=False)
    previous = "octo/runtime@v10.0.0"  # OLD as a GitHub release: package and split symbols fetched

    before = len(fake.writes())
    code = cli_main(["publish", "--dist", str(_publishable(releases["removed"], tmp_path / "removed")),
                     "--repo", "octo/runtime", "--tag", "v10.1.0", "--previous", previous])
    assert code == 1 and len(fake.writes()) == before  # stopped before any write

    code = cli_main(["publish", "--dist", str(_publishable(releases["added"], tmp_path / "added")),
                     "--repo", "octo/runtime", "--tag", "v10.1.0", "--previous", previous, "--json"])
    assert code == 0
    (create,) = [r for r in fake.writes() if r.method == "POST" and r.path.endswith("/releases")]
    notes = json.loads(create.body)["body"]
    assert notes.startswith(f"## ABI changes since {previous}")
    assert f"### {RID}: compatible (10.0.0-ref.1 -> 10.1.0-ref.1, libRuntime.Base.so.10)" in notes
    assert "- added: `RhGetRuntimeMajorVersion`" in notes
    assert "types not compared" not in notes  # abidiff ran against the release's .dbg

    code = cli_main(["publish", "--dist", str(_publishable(releases["struct"], tmp_path / "struct")),
                     "--repo", "octo/runtime", "--tag", "v10.1.1", "--previous", previous])
    assert code == 1  # the changed struct, seen only at type level, through the fetched symbols


def test_pe_ordinals_shift_when_an_export_is_added_and_names_keep_it_compatible(releases, tmp_path):
    for name in ("baseline", "added"):  # build outputs as the two sides
        done = run_ci("build", "--platform", "win-x64", "--out", tmp_path / name, cwd=releases[name]["checkout"], env=EPOCH)
        assert done.returncode == 0, done.stdout + done.stderr
    done = run_ci("abi", "--old", tmp_path / "baseline", "--new", tmp_path / "added", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert (result["rid"], result["verdict"], result["exports"]["added"]) == ("win-x64", "compatible",
                                                                              ["RhGetRuntimeMajorVersion"])
    shifted = result["exports"]["ordinal_changed"]
    assert shifted and all(change["new"] == change["old"] + 1 for change in shifted)
    assert result["types"]["compared"] is False and "PE" in result["types"]["reason"]


def test_bad_sides_are_one_line_errors(releases, tmp_path):
    new = releases["baseline"]["dist"]
    assert_one_line_error(run_ci("abi", "--old", tmp_path / "missing", "--new", new), "no such file or directory")
    (tmp_path / "notes.txt").write_text("not a package\n")
    assert_one_line_error(run_ci("abi", "--old", tmp_path / "notes.txt", "--new", new), "notes.txt",
                          "not a .tar, .tar.gz or .zip archive")
    assert_one_line_error(run_ci("abi", "--old", tmp_path, "--new", new), str(tmp_path),
                          f"expected one runtime-base-<version>-{RID}.tar.gz, found 0")
    assert_one_line_error(run_ci("abi", "--old", new, "--new", tmp_path), str(tmp_path), "holds no runtime-base package")
