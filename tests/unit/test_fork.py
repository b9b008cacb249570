"""The fork as a runtime source: checking a checkout, its Linux split, its layout, build command and cache key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.runtime.fork import linkplan
from ci import platforms
from ci.core.errors import CiError, InputError
from ci.runtime import sources
from ci.runtime.fork import checkout as fork_checkout, link as fork_link
from ci.runtime.fork import driver as fork_build
from ci.runtime.fork import layout as fork_layout
from ci.runtime.fork.layout import BOOTSTRAP_DIR, ForkLayout
from ci.runtime.output import BuildOutput
from ci.runtime.fork import cmake
from tests.fixtures.fake_fork import (
    FORK_COMMIT,
    MAIN_CPP,
    MAIN_CPP_SPLIT,
    git,
    make_fork,
    touch,
    windows,
)

LINUX_X64 = platforms.get_platform("linux-x64")


@pytest.fixture
def checkout(tmp_path) -> Path:
    return make_fork(tmp_path / "fork")


# --- which source, and is it the fork -------------------------------------------------------


def test_a_checkout_that_is_not_the_fork_gets_one_error_listing_every_missing_piece(tmp_path):
    with pytest.raises(InputError) as caught:
        fork_checkout.check_checkout(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path}: not a checkout of the split-runtime fork: missing ")
    for piece in (*fork_layout.SOURCES, f"{BOOTSTRAP_DIR}/CMakeLists.txt (the bootstrappers' CMake projects)"):
        assert piece in message
    assert "\n" not in message


def test_one_missing_piece_is_named_alone(checkout):
    (checkout / "src/coreclr/nativeaot/System.Private.CoreLib/src/Outplace.CoreLib.csproj").unlink()
    with pytest.raises(InputError, match=r"missing src/coreclr/nativeaot/System.Private.CoreLib/src/"
                                         r"Outplace.CoreLib.csproj \(the Outplace CoreLib project\)$"):
        fork_checkout.check_checkout(checkout)


def test_the_real_layout_is_accepted_though_no_file_is_named_outplace(checkout):
    assert not list((checkout / BOOTSTRAP_DIR).rglob("*outplace*.c*"))
    assert fork_checkout.check_checkout(checkout) == checkout
    outplace = fork_layout.bootstrapper(checkout, "outplace")
    assert outplace.name == "bootstrapperoutplace"
    assert outplace.sources == (checkout / BOOTSTRAP_DIR / "main.cpp",)
    assert outplace.defines == ("NATIVEAOT_CONSUME_OUTPLACE",)
    runtimebase = fork_layout.bootstrapper(checkout, "runtimebase")
    assert runtimebase.sources == (checkout / BOOTSTRAP_DIR / "runtimebase.cpp",) and runtimebase.defines == ()


def test_bootstrappers_are_found_through_cmake_not_file_names(checkout):
    # Renaming the folder is fine when Bootstrap/CMakeLists.txt follows; the project name is what counts.
    (checkout / BOOTSTRAP_DIR / "baseoutplace").rename(checkout / BOOTSTRAP_DIR / "apphost")
    cmake_lists = checkout / BOOTSTRAP_DIR / "CMakeLists.txt"
    with pytest.raises(InputError, match=r"missing a subdirectory of .*CMakeLists.txt with project\(bootstrapperoutplace\)"):
        fork_checkout.check_checkout(checkout)
    cmake_lists.write_text(cmake_lists.read_text().replace("add_subdirectory(baseoutplace)", "add_subdirectory(apphost)"))
    assert fork_layout.bootstrapper(checkout, "outplace").cmake == checkout / BOOTSTRAP_DIR / "apphost/CMakeLists.txt"


def test_a_source_the_cmake_project_names_must_exist(checkout):
    (checkout / BOOTSTRAP_DIR / "main.cpp").unlink()
    with pytest.raises(InputError, match=rf"missing {BOOTSTRAP_DIR}/main.cpp \(compiled by {BOOTSTRAP_DIR}/baseoutplace/CMakeLists.txt\)$"):
        fork_checkout.check_checkout(checkout)


def test_cmake_conditions_and_variables_are_read(tmp_path):
    lists = touch(tmp_path / "CMakeLists.txt", "# add_subdirectory(commented)\nadd_subdirectory(a)\n"
                  "if (CLR_CMAKE_TARGET_WIN32)\n  add_subdirectory(\"b\")\nendif()\n")
    assert [(s.name, s.condition) for s in cmake.subdirectories(lists)] == [("a", ""), ("b", "CLR_CMAKE_TARGET_WIN32")]
    sub = touch(tmp_path / "b" / "CMakeLists.txt", "project(p)\nset(SRC ../x.cpp ../y.cpp)\n"
                "add_definitions(-DONE -DTWO=2)\nadd_compile_definitions(THREE)\nadd_library(p OBJECT ${SRC})\n")
    proj = cmake.project(sub)
    assert proj.sources == (tmp_path / "x.cpp", tmp_path / "y.cpp") and proj.defines == ("ONE", "TWO=2", "THREE")
    with pytest.raises(InputError, match="no project"):
        cmake.project(touch(tmp_path / "c" / "CMakeLists.txt", "set(A b)\n"))
    with pytest.raises(InputError, match="line 1: unbalanced parentheses"):
        cmake.commands(touch(tmp_path / "d" / "CMakeLists.txt", "project(p\n"))


def test_the_reference_runtime_stays_the_default(checkout):
    assert sources.runtime_source(None, env={}).kind == "reference"
    source = sources.runtime_source(None, env={sources.ENV_VAR: str(checkout)})
    assert (source.kind, source.checkout) == ("fork", checkout)
    assert sources.runtime_source(checkout, env={sources.ENV_VAR: "/nonexistent"}).checkout == checkout  # the option wins
    assert source.describe().startswith(f"fork checkout {checkout} at ")
    with pytest.raises(InputError, match="not a directory"):
        sources.runtime_source(None, env={sources.ENV_VAR: "/nonexistent"})


# --- the Linux split: the real compiler decides ----------------------------------------------


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("rid", ["linux-x64", "linux-arm64"])
def test_the_fork_as_it_is_has_no_linux_split_and_the_reason_is_one_line(checkout, rid):
    split = fork_checkout.linux_split(checkout, platforms.get_platform(rid))
    declared = line_of(MAIN_CPP, "DLL_IMPORT int InitializeRuntimeBase")
    defined = line_of(MAIN_CPP, "#define DLL_IMPORT")
    assert not split.ready and "\n" not in split.reason
    assert split.reason == (
        f"{BOOTSTRAP_DIR}/main.cpp:{declared} declares InitializeRuntimeBase with DLL_IMPORT, which is undefined "
        f"for non-Windows targets (defined only under the Windows branch at main.cpp:{defined}, its #else branch "
        f"defines only DLL_EXPORT); fix: define DLL_IMPORT for non-Windows targets too, e.g. in the #else branch "
        f"at main.cpp:{defined + 1}")


def test_gcc_as_the_oracle_gives_the_same_line(checkout):
    by_clang = fork_checkout.linux_split(checkout, LINUX_X64)
    gcc = fork_checkout.Compiler(("x86_64-linux-gnu-g++",), "gcc")
    assert fork_checkout.linux_split(checkout, LINUX_X64, compiler=gcc) == by_clang


def test_a_macro_no_target_defines_is_said_so(checkout):
    main = checkout / BOOTSTRAP_DIR / "main.cpp"
    main.write_text(MAIN_CPP.replace("DLL_IMPORT int InitializeRuntimeBase", "RB_IMPORT int InitializeRuntimeBase"))
    reason = fork_checkout.linux_split(checkout, LINUX_X64).reason
    assert reason.endswith("declares InitializeRuntimeBase with RB_IMPORT, which no target defines; fix: define RB_IMPORT")


def test_with_dll_import_defined_for_linux_the_split_is_ready(tmp_path):
    split = fork_checkout.linux_split(make_fork(tmp_path / "fork", MAIN_CPP_SPLIT), LINUX_X64)
    assert split.ready, split.reason
    assert split.reason.startswith(f"{BOOTSTRAP_DIR}/main.cpp (project bootstrapperoutplace, "
                                   "-DNATIVEAOT_CONSUME_OUTPLACE) compiles for linux-x64")


def test_the_outplace_define_is_what_brings_the_declaration_in(checkout):
    # Without the define the CMake project adds, main.cpp compiles for Linux: the check must use it.
    lists = checkout / BOOTSTRAP_DIR / "baseoutplace" / "CMakeLists.txt"
    lists.write_text(lists.read_text().replace("add_definitions(-DNATIVEAOT_CONSUME_OUTPLACE)", ""))
    assert fork_checkout.linux_split(checkout, LINUX_X64).ready


def test_another_compile_error_is_reported_as_the_compiler_says(checkout):
    main = checkout / BOOTSTRAP_DIR / "main.cpp"
    main.write_text(MAIN_CPP_SPLIT.replace("return 0;\n}", "return undeclared_thing;\n}"))
    split = fork_checkout.linux_split(checkout, LINUX_X64)
    line = line_of(main.read_text(), "undeclared_thing")
    assert not split.ready
    assert split.reason.startswith(f"{BOOTSTRAP_DIR}/main.cpp:{line} does not compile for linux-x64 with the "
                                   "bootstrapperoutplace defines (")
    assert "undeclared_thing" in split.reason


def test_without_a_compiler_it_says_so(checkout):
    with pytest.raises(CiError, match="linux-x64: no clang .* to check the fork's bootstrapper"):
        fork_checkout.find_compiler(LINUX_X64, which=lambda name: None)


def test_the_linux_leg_fails_before_building(checkout, tmp_path):
    with pytest.raises(CiError, match=r"^linux-x64: the fork has no Linux split yet, so nothing was built: "
                                      r".*main.cpp:\d+ declares InitializeRuntimeBase with DLL_IMPORT"):
        fork_link.build_runtime_base(checkout, LINUX_X64, tmp_path / "out", "Debug")
    assert not (checkout / fork_build.STATE_DIR).exists() and not (tmp_path / "out").exists()


def test_the_facts_name_the_fork_commit_they_were_read_at():
    assert len(fork_layout.FORK_COMMIT) == 40
    assert fork_layout.FACTS["bootstrap"]["commit"] == fork_layout.FORK_COMMIT == FORK_COMMIT
    assert fork_layout.BOOTSTRAPPERS == {"runtimebase": "bootstrapperruntimebase", "outplace": "bootstrapperoutplace"}


# --- layout ---------------------------------------------------------------------------------


def test_outputs_are_where_the_facts_say():
    layout = ForkLayout(Path("/fork"), windows(), "Debug")
    assert layout.ilc.path == Path("/fork/artifacts/bin/coreclr/windows.x64.Debug/ilc-published/ilc.exe")
    assert layout.aotsdk("lib", "aotminipal").path.name == "aotminipal.lib"
    assert layout.aotsdk("obj", "bootstrapperoutplace").path.name == "bootstrapperoutplace.obj"
    assert layout.runtime_base_il.path == Path("/fork/artifacts/bin/Runtime.Base/x64/Debug/Runtime.Base.dll")
    assert layout.outplace_corelib.path == Path("/fork/artifacts/bin/Outplace.CoreLib/x64/Debug/System.Private.CoreLib.dll")
    assert layout.framework.path == Path(
        "/fork/artifacts/bin/microsoft.netcore.app.runtime.win-x64/Release/runtimes/win-x64/lib/net10.0")
    linux = ForkLayout(Path("/fork"), LINUX_X64, "Release")
    assert linux.ilc.path == Path("/fork/artifacts/bin/coreclr/linux.x64.Release/ilc-published/ilc")
    assert linux.aotsdk("lib", "aotminipal").path.name == "libaotminipal.a"
    assert linux.aotsdk("obj", "bootstrapperoutplace").path.name == "libbootstrapperoutplace.o"


def test_a_missing_output_is_named_with_the_step_that_makes_it(tmp_path):
    layout = ForkLayout(tmp_path, windows(), "Debug")
    with pytest.raises(InputError) as caught:
        fork_layout.require([layout.ilc, layout.runtime_base_il, layout.aotsdk("lib", "aotminipal")], tmp_path)
    message = str(caught.value)
    assert "artifacts/bin/coreclr/windows.x64.Debug/ilc-published/ilc.exe missing: built by subset clr.aot (clr.tools)" in message
    assert "Runtime.Base.dll missing: built by subset clr.aot (clr.nativeaotlibs: Runtime.Base.csproj)" in message
    assert "aotminipal.lib missing: built by subset clr.aot (clr.nativeaotruntime)" in message
    touch(layout.ilc.path)
    assert fork_layout.missing([layout.ilc], tmp_path) == []


# --- the build command ----------------------------------------------------------------------


def request(checkout: Path, platform=LINUX_X64, **kw) -> fork_build.BuildRequest:
    return fork_build.BuildRequest(checkout, platform, **kw)


def test_native_linux_build_command(checkout):
    cmd = fork_build.command(request(checkout, configuration="Release"), host="linux-x64")
    assert cmd.argv == (str(checkout / "build.sh"), "-s", "clr.aot+libs", "-rc", "Release", "-lc", "Release",
                        "-a", "x64", "-os", "linux", "-bl")
    assert cmd.cwd == checkout and "ROOTFS_DIR" not in cmd.env


def test_linux_arm64_on_x64_is_a_cross_build_with_a_rootfs(checkout):
    arm64 = platforms.get_platform("linux-arm64")
    with pytest.raises(CiError, match="cross build: set ROOTFS_DIR"):
        fork_build.command(request(checkout, arm64), host="linux-x64")
    cmd = fork_build.command(request(checkout, arm64, rootfs=Path("/crossrootfs/arm64")), host="linux-x64")
    assert cmd.argv[-4:] == ("-os", "linux", "-bl", "--cross") and cmd.env["ROOTFS_DIR"] == "/crossrootfs/arm64"


def test_windows_builds_on_windows_only(checkout):
    with pytest.raises(CiError, match="win-x64: the fork builds it on a win host only"):
        fork_build.command(request(checkout, windows()), host="linux-x64")
    cmd = fork_build.command(request(checkout, windows()), host="win-x64")
    assert cmd.argv[:3] == ("cmd.exe", "/c", str(checkout / "build.cmd")) and cmd.argv[-3:] == ("-os", "windows", "-bl")


def test_github_actions_builds_with_ci_as_upstream_does(checkout, monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert "-ci" not in fork_build.command(request(checkout, windows()), host="win-x64").argv
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert fork_build.command(request(checkout, windows()), host="win-x64").argv[-2:] == ("-bl", "-ci")


def test_unknown_configuration(checkout):
    with pytest.raises(CiError, match="runtime one of Debug, Release, Checked"):
        fork_build.command(request(checkout, configuration="Fast"), host="linux-x64")


# --- the cache key --------------------------------------------------------------------------


def test_the_cache_key_changes_exactly_when_an_input_changes(checkout):
    base = request(checkout)
    key = fork_build.cache_key(base)
    assert fork_build.cache_key(base) == key
    touch(checkout / "artifacts" / "bin" / "new.dll", "a build output")  # not an input
    assert fork_build.cache_key(base) == key

    changed = {
        "rid": request(checkout, platforms.get_platform("linux-arm64")),
        "runtime configuration": request(checkout, configuration="Debug"),
        "libraries configuration": request(checkout, libraries_configuration="Debug"),
        "image": request(checkout, image="sha256:1234"),
    }
    for label, other in changed.items():
        assert fork_build.cache_key(other) != key, label

    def edited(rel: str, text: str | None) -> str:
        path = checkout / rel
        before = path.read_text() if path.exists() else None
        touch(path, text) if text is not None else path.unlink()
        try:
            return fork_build.cache_key(base)
        finally:
            touch(path, before) if before is not None else path.unlink()

    assert edited("eng/Versions.props", "<Project />\n") != key  # uncommitted change
    assert edited("notes.txt", "untracked\n") != key
    assert edited("notes.txt", "untracked\n") != edited("notes.txt", "other\n")  # untracked content
    assert fork_build.cache_key(base) == key  # all undone


def test_asm_offsets_counts_even_when_git_is_told_to_ignore_it(checkout):
    key = fork_build.cache_key(request(checkout))
    git(checkout, "update-index", "--assume-unchanged", fork_layout.ASM_OFFSETS)
    touch(checkout / fork_layout.ASM_OFFSETS, "ASM_OFFSET(    8,     8, Thread, m_rgbAllocContextBuffer)\n")
    assert git(checkout, "diff", "HEAD") == ""
    assert fork_build.cache_key(request(checkout)) != key


def test_a_new_commit_changes_the_key(checkout):
    key = fork_build.cache_key(request(checkout))
    git(checkout, "commit", "-q", "--allow-empty", "-m", "nothing")
    assert fork_build.cache_key(request(checkout)) != key


def test_outside_git_the_key_cannot_be_made(tmp_path):
    with pytest.raises(InputError, match="git rev-parse: .*the build cache key needs a git checkout"):
        fork_build.cache_key(request(tmp_path))


# --- the build output -----------------------------------------------------------------------


def test_a_finished_windows_link_is_a_build_output_with_the_reference_roles(checkout, tmp_path):
    out = tmp_path / "out"
    tools = linkplan.Toolset(linker="link.exe")
    part = linkplan.make_plan(ForkLayout(checkout, windows(), "Release"), tools, out).runtime
    for role in ("library", "link", "debug"):
        touch(part.outputs[role], role)
    built = fork_link.to_build_output(out, part, checkout, windows(), "Release")
    assert (built.library, built.link, built.debug, built.include) == (
        "lib/Runtime.Base.dll", ("lib/Runtime.Base.lib",), ("lib/Runtime.Base.pdb",), ())
    assert built.source.kind == "fork" and built.version == f"10.0.0-fork.{built.source.commit[:12]}"
    built.write()
    assert BuildOutput.read(out) == built


def test_ilc_exports_must_match_the_list(tmp_path):
    ilc_def = touch(tmp_path / "Runtime.Base.def", "EXPORTS\n    InitializeRuntimeBase\n    Extra DATA\n")
    with pytest.raises(CiError, match=r"ILC's exports differ from runtime-base-exports.txt \(missing: .*; unlisted: Extra\)"):
        fork_link.check_ilc_exports(ilc_def)
    with pytest.raises(InputError, match="ILC did not write its exports file"):
        fork_link.check_ilc_exports(tmp_path / "none.def")


def test_version_needs_the_props(tmp_path):
    with pytest.raises(InputError, match="Versions.props: no MajorVersion"):
        fork_link.version(tmp_path, None)


def test_in_ci_progress_is_a_plain_line_a_minute(monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    with fork_build.watching("fork build linux-x64") as watch:
        for lines, elapsed, last in ((10, 30.0, "a"), (20, 61.0, "b"), (30, 90.0, "c"), (40, 125.0, "d")):
            watch(lines, elapsed, last)
    assert capsys.readouterr().out.splitlines() == [
        "  fork build linux-x64: 20 lines after 1m01s: b", "  fork build linux-x64: 40 lines after 2m05s: d"]
