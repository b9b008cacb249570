"""verify on gcc-built ELF apps: unversioned imports resolve as the loader would resolve them."""

from __future__ import annotations

from pathlib import Path

from ci.checks.verify import verify
from tests.binaries_helpers import run_tool

RUNTIME_C = "int RhGetRuntimeVersion(void) { return 1; }\n"
OTHER_C = "int other_api(void) { return 2; }\nint vanishing_api(void) { return 3; }\n"
OTHER_LATER_C = "int other_api(void) { return 2; }\n"  # a later build that dropped vanishing_api
APP_C = """
int RhGetRuntimeVersion(void); int other_api(void); int vanishing_api(void);
int main(void) { return RhGetRuntimeVersion() + other_api() + vanishing_api(); }
"""


def test_unversioned_import_that_no_needed_library_exports(tmp_path: Path) -> None:
    for name, text in {"rt.c": RUNTIME_C, "other.c": OTHER_C, "later.c": OTHER_LATER_C, "app.c": APP_C}.items():
        (tmp_path / name).write_text(text)
    shared = ("gcc", "-shared", "-fPIC")
    run_tool(*shared, "-o", "libRuntime.Base.so", "-Wl,-soname,libRuntime.Base.so", "rt.c", cwd=tmp_path)
    run_tool(*shared, "-o", "libother.so", "-Wl,-soname,libother.so", "other.c", cwd=tmp_path)
    run_tool("gcc", "-o", "app", "app.c", "-L.", "-lRuntime.Base", "-lother", "-Wl,-rpath,$ORIGIN", cwd=tmp_path)
    assert verify(tmp_path / "libRuntime.Base.so", [tmp_path / "app"])["ok"]
    run_tool(*shared, "-o", "libother.so", "-Wl,-soname,libother.so", "later.c", cwd=tmp_path)
    result = verify(tmp_path / "libRuntime.Base.so", [tmp_path / "app"])
    assert [(v["symbol"], v["problem"]) for v in result["violations"]] == [
        ("vanishing_api", "not exported by libRuntime.Base.so nor by any other needed library")]
