"""One runtime per process, and share noticing an app that loads another copy."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.conftest import assert_one_line_error, run_ci
from tests.e2e.helpers import FIXTURES, gcc, unpacked_runtime


def test_second_copy_in_one_process_refuses(pipeline, tmp_path):
    runtime = unpacked_runtime(pipeline)
    exe = tmp_path / "second_copy"
    gcc("-o", exe, FIXTURES / "second_copy.c", f"-I{runtime / 'include'}", runtime / "lib/libRuntime.Base.so",
        f"-Wl,-rpath,{runtime / 'lib'}", "-ldl")
    copy = tmp_path / "other" / "libRuntime.Base.so"
    copy.parent.mkdir()
    shutil.copyfile(runtime / "lib/libRuntime.Base.so", copy)
    done = subprocess.run([exe, copy], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["second_refused"] is True
    message = done.stderr.strip()
    assert "one runtime per process" in message
    assert str(copy) in message and str((runtime / "lib/libRuntime.Base.so").resolve()) in message


def test_share_fails_when_an_app_loads_a_different_copy(pipeline, tmp_path):
    runtime = unpacked_runtime(pipeline)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    soname = json.loads((runtime / "manifest.json").read_text())["soname"]  # the name apps ask the loader for
    shutil.copyfile(runtime / "lib/libRuntime.Base.so", elsewhere / soname)
    # LD_LIBRARY_PATH is searched before the apps' RUNPATH: every app now maps the stray copy.
    done = run_ci("share", "--apps", pipeline["apps"], "--json",
                  env={"LD_LIBRARY_PATH": str(elsewhere)})
    assert done.returncode == 1, done.stdout + done.stderr
    problems = json.loads(done.stdout)["problems"]
    assert any("not the package's" in p and str(elsewhere) in p for p in problems)


def test_share_reports_an_app_that_does_not_hold(pipeline, tmp_path):
    apps = tmp_path / "apps"
    shutil.copytree(pipeline["apps"], apps, symlinks=True)
    (tmp_path / "quick.c").write_text(
        '#include <stdio.h>\nint main(void) { puts("{\\"app\\":\\"hello\\",\\"pid\\":1,'
        '\\"instance\\":\\"1\\",\\"runtime_path\\":\\"x\\",\\"version\\":\\"1\\"}"); return 0; }\n')
    gcc("-o", apps / "bin/hello", tmp_path / "quick.c")
    done = run_ci("share", "--apps", apps)
    assert_one_line_error(done, "hello exited before its memory maps were read", code=1)


def test_an_app_set_whose_runtime_is_older_than_its_requirement_is_refused(pipeline, tmp_path):
    apps = tmp_path / "apps"
    shutil.copytree(pipeline["apps"], apps, symlinks=True)
    listing = json.loads((apps / "apps.json").read_text())
    assert listing["requires"] | {"abi_hash": None} == {"name": "Runtime.Base", "rid": "linux-x64", "version": "10.0",
                                                         "roll_forward": "Minor", "abi_hash": None}
    listing["requires"]["version"] = "10.1"  # as if built against 10.1, then given a 10.0 runtime
    (apps / "apps.json").write_text(json.dumps(listing))
    done = run_ci("share", "--apps", apps)
    assert done.returncode == 2
    assert_one_line_error(done, f"{apps / 'apps.json'}: needs Runtime.Base 10.1 or a later 10.x, the runtime is 10.0.0-ref.1")
