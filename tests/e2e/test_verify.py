"""verify: apps import Runtime.Base and embed none of it; each violation named by app and symbol."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import assert_one_line_error, run_ci
from tests.e2e.helpers import APPS_SRC, gcc, runtime_defines, runtime_sources, unpacked_runtime


def _verify(runtime, *apps) -> tuple[int, dict]:
    done = run_ci("verify", "--runtime", runtime, *[a for app in apps for a in ("--app", app)], "--json")
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout)


def test_sample_apps_pass(pipeline):
    root = pipeline["build"] / "linux-x64" / "apps"
    apps = sorted(p for p in (root / "bin").rglob("*") if p.is_file())
    code, result = _verify(unpacked_runtime(pipeline) / "lib/libRuntime.Base.so", *apps)
    assert code == 0 and result["ok"] and len(result["apps"]) == 6
    assert all(a["imports_from_runtime"] > 0 for a in result["apps"])


def test_app_with_its_own_static_copy_is_reported(pipeline, tmp_path):
    app = tmp_path / "hello_private"
    gcc("-O1", *runtime_defines(), "-I", APPS_SRC, "-o", app, APPS_SRC / "hello.c", *runtime_sources(),
        "-pthread", "-ldl")
    code, result = _verify(unpacked_runtime(pipeline) / "lib/libRuntime.Base.so", app)
    assert code == 1
    problems = {(v["symbol"], v["problem"].split(":")[0]) for v in result["violations"]}
    assert (None, "does not need libRuntime.Base.so.10 (needed") in problems
    private = {v["symbol"] for v in result["violations"] if "private copy" in v["problem"]}
    assert {"InitializeRuntimeBase", "RhpNewFast", "RhGetRuntimeVersion"} <= private


def test_missing_export_is_reported_by_app_and_symbol(pipeline, tmp_path):
    # A newer runtime with one more export; the app uses it; the packaged runtime lacks it.
    (tmp_path / "newer.c").write_text(
        "unsigned long long InitializeRuntimeBase(void) { return 1; }\nint RhNewerApi(void) { return 2; }\n")
    (tmp_path / "v.map").write_text("V1.0 { global: InitializeRuntimeBase; RhNewerApi; local: *; };\n")
    gcc("-shared", "-fPIC", "-o", tmp_path / "libRuntime.Base.so", tmp_path / "newer.c",
        "-Wl,-soname,libRuntime.Base.so.10", f"-Wl,--version-script={tmp_path / 'v.map'}")
    (tmp_path / "app.c").write_text(
        "unsigned long long InitializeRuntimeBase(void); int RhNewerApi(void);\n"
        "int main(void) { return (int)InitializeRuntimeBase() + RhNewerApi(); }\n")
    gcc("-o", tmp_path / "app", tmp_path / "app.c", f"-L{tmp_path}", "-lRuntime.Base")
    code, result = _verify(unpacked_runtime(pipeline) / "lib/libRuntime.Base.so", tmp_path / "app")
    assert code == 1
    assert result["violations"] == [{
        "app": str(tmp_path / "app"), "symbol": "RhNewerApi",
        "problem": "imported from libRuntime.Base.so.10, which does not export it"}]


def test_truncated_and_non_binary_inputs_get_one_line_errors(pipeline, tmp_path):
    library = unpacked_runtime(pipeline) / "lib/libRuntime.Base.so"
    truncated = tmp_path / "truncated.so"
    truncated.write_bytes(library.read_bytes()[:300])
    assert_one_line_error(run_ci("verify", "--runtime", truncated, "--app", library), str(truncated))
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a binary\n")
    assert_one_line_error(run_ci("verify", "--runtime", library, "--app", text), str(text), "not an ELF or PE")
    assert_one_line_error(run_ci("verify", "--runtime", tmp_path / "absent.so", "--app", text), "absent.so")


def test_stripped_app_is_reported_as_not_checkable(pipeline, tmp_path):
    """A stripped app passes, but the report says its private copies could not be checked."""
    app = sorted(p for p in (pipeline["build"] / "linux-x64" / "apps" / "bin").rglob("*") if p.is_file())[0]
    stripped = tmp_path / app.name
    subprocess.run(["strip", "-o", str(stripped), str(app)], check=True)
    runtime = unpacked_runtime(pipeline) / "lib/libRuntime.Base.so"
    code, result = _verify(runtime, app, stripped)
    assert code == 0 and result["ok"]
    assert [a.get("private_copies") for a in result["apps"]] == [None, "no symbols: private copies not checkable"]
    assert result["notes"] == [f"{stripped}: no symbols: private copies not checkable"]
    done = run_ci("verify", "--runtime", runtime, "--app", stripped)
    assert done.returncode == 0 and "no symbols: private copies not checkable" in done.stdout
