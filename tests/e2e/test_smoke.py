"""smoke: a crash, a wrong runtime path or a non-JSON line fails the stage."""

from __future__ import annotations

import json
import shutil

from tests.conftest import assert_one_line_error, run_ci
from tests.e2e.helpers import gcc


def _app_set_with(pipeline, tmp_path, hello_source: str | None):
    """A copy of the pipeline's app set, `hello` replaced by a program built from `hello_source`."""
    copy = tmp_path / "apps"
    shutil.copytree(pipeline["apps"], copy, symlinks=True)
    if hello_source is not None:
        (tmp_path / "bad.c").write_text(hello_source)
        gcc("-o", copy / "bin/hello", tmp_path / "bad.c")
    return copy


def _smoke(apps, env=None) -> tuple[int, dict]:
    done = run_ci("smoke", "--apps", apps, "--json", env=env)
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout)


def test_sample_apps_pass_natively(pipeline, tmp_path):
    code, result = _smoke(pipeline["apps"])
    assert code == 0 and result["how"] == "native"
    assert [r["app"] for r in result["results"]] == ["alloc", "hello", "plugin_host", "threads"]
    assert all(r["exit"] == 0 and r["how"] == "native" for r in result["results"])


def test_a_crash_fails(pipeline, tmp_path):
    apps = _app_set_with(pipeline, tmp_path, "#include <stdlib.h>\nint main(void) { abort(); }\n")
    code, result = _smoke(apps)
    assert code == 1
    assert any(p.startswith("hello exited with -6") for p in result["problems"]), result["problems"]


def test_a_non_json_line_fails(pipeline, tmp_path):
    apps = _app_set_with(pipeline, tmp_path, '#include <stdio.h>\nint main(void) { puts("hi there"); return 0; }\n')
    code, result = _smoke(apps)
    assert code == 1
    assert result["problems"] == ["hello printed a non-JSON line: 'hi there'"]


def test_a_wrong_runtime_path_fails(pipeline, tmp_path):
    stray = tmp_path / "stray"
    stray.mkdir()
    soname = json.loads((pipeline["apps"] / "runtime/manifest.json").read_text())["soname"]  # what apps load
    shutil.copyfile(pipeline["apps"] / "runtime/lib/libRuntime.Base.so", stray / soname)
    code, result = _smoke(pipeline["apps"], env={"LD_LIBRARY_PATH": str(stray)})
    assert code == 1
    assert all(any("reports runtime" in p and str(stray) in p for p in r["problems"]) for r in result["results"])


def test_markup_and_malformed_reports_are_problems_not_crashes(pipeline, tmp_path):
    apps = _app_set_with(pipeline, tmp_path, '#include <stdio.h>\nint main(void) { puts('
                         '"{\\"app\\":\\"h\\",\\"pid\\":1,\\"instance\\":\\"[/x]\\",\\"runtime_path\\":\\"[/x]\\",'
                         '\\"version\\":\\"1\\",\\"plugins\\":5}"); return 0; }\n')
    done = run_ci("smoke", "--apps", apps)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "hello's report has malformed instance, runtime_path or plugins" in done.stdout


def test_an_app_set_whose_rid_disagrees_with_its_package_is_refused(pipeline, tmp_path):
    apps = _app_set_with(pipeline, tmp_path, None)
    listing = json.loads((apps / "apps.json").read_text())
    listing["rid"] = "win-x64"
    (apps / "apps.json").write_text(json.dumps(listing))
    assert_one_line_error(run_ci("smoke", "--apps", apps), "apps.json", "says win-x64, but its runtime package is linux-x64")
