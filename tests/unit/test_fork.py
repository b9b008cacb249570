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
from tests.fixtures.fake_fork import (
    OUTPLACE_SPLIT,
    OUTPLACE_WINDOWS_ONLY,
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
    for piece in (*fork_layout.SOURCES, f"{BOOTSTRAP_DIR}/*runtimebase*", f"{BOOTSTRAP_DIR}/*outplace*"):
        assert piece in message
    assert "\n" not in message


def test_one_missing_piece_is_named_alone(checkout):
    (checkout / "src/coreclr/nativeaot/System.Private.CoreLib/src/Outplace.CoreLib.csproj").unlink()
    with pytest.raises(InputError, match=r"missing src/coreclr/nativeaot/System.Private.CoreLib/src/"
                                         r"Outplace.CoreLib.csproj \(the Outplace CoreLib project\)$"):
        fork_checkout.check_checkout(checkout)


def test_bootstrappers_are_found_by_folder_name_too(checkout):
    source = checkout / BOOTSTRAP_DIR / "baseoutplace.cpp"
    touch(source.parent / "outplace" / "main.cpp", source.read_text())
    source.unlink()
    assert fork_checkout.check_checkout(checkout) == checkout


def test_the_reference_runtime_stays_the_default(checkout):
    assert sources.runtime_source(None, env={}).kind == "reference"
    source = sources.runtime_source(None, env={sources.ENV_VAR: str(checkout)})
    assert (source.kind, source.checkout) == ("fork", checkout)
    assert sources.runtime_source(checkout, env={sources.ENV_VAR: "/nonexistent"}).checkout == checkout  # the option wins
    assert source.describe().startswith(f"fork checkout {checkout} at ")
    with pytest.raises(InputError, match="not a directory"):
        sources.runtime_source(None, env={sources.ENV_VAR: "/nonexistent"})


# --- the Linux split ------------------------------------------------------------------------


def split_with(tmp_path: Path, outplace: str, **more: str) -> fork_checkout.LinuxSplit:
    for rel, text in {"baseoutplace.cpp": outplace, **more}.items():
        touch(tmp_path / BOOTSTRAP_DIR / rel, text)
    return fork_checkout.linux_split(tmp_path)


def test_dll_import_defined_only_for_windows_is_not_a_linux_split(tmp_path):
    split = split_with(tmp_path, OUTPLACE_WINDOWS_ONLY)
    assert not split.ready
    assert split.reason == (f"{BOOTSTRAP_DIR}/baseoutplace.cpp:8: InitializeRuntimeBase is declared with DLL_IMPORT, "
                            f"which is defined only for Windows or other non-Linux conditions ({BOOTSTRAP_DIR}/baseoutplace.cpp:5)")


@pytest.mark.parametrize("definition", [
    "#ifdef TARGET_WINDOWS\n#define DLL_IMPORT __declspec(dllimport)\n#else\n#define DLL_IMPORT\n#endif\n",
    "#if defined(_WIN32)\n#define DLL_IMPORT __declspec(dllimport)\n#elif defined(__linux__)\n#define DLL_IMPORT\n#endif\n",
    "#ifndef TARGET_WINDOWS\n#define DLL_IMPORT __attribute__((visibility(\"default\")))\n#endif\n",
    "#define DLL_IMPORT __attribute__((visibility(\"default\")))\n",
    "#if !defined(HOST_WINDOWS) && \\\n    TARGET_UNIX\n#  define DLL_IMPORT\n#endif\n",
])
def test_a_non_windows_definition_is_a_linux_split(tmp_path, definition):
    split = split_with(tmp_path, definition + 'extern "C" DLL_IMPORT void* InitializeRuntimeBase();\n')
    assert split.ready, split.reason


def test_a_definition_in_a_shared_header_counts_and_one_in_another_cpp_does_not(tmp_path):
    declaration = '#include "bootstrap.h"\nextern "C"\nDLL_IMPORT\nvoid* InitializeRuntimeBase(void);\n'
    header = ("#ifndef BOOTSTRAP_H\n#define BOOTSTRAP_H\n#ifdef _WIN32\n#define DLL_IMPORT __declspec(dllimport)\n"
              "#else\n#define DLL_IMPORT\n#endif\n#endif\n")
    assert split_with(tmp_path / "a", declaration, **{"bootstrap.h": header}).ready
    assert not split_with(tmp_path / "b", declaration, **{"other.cpp": header}).ready


@pytest.mark.parametrize("source, reason", [
    ("#ifdef _WIN32\nextern \"C\" __declspec(dllimport) void* InitializeRuntimeBase();\n#endif\n",
     "declared only for Windows"),
    ("extern \"C\" __declspec(dllimport) void* InitializeRuntimeBase();\n", "declared with __declspec"),
    ("extern \"C\" RB_IMPORT void* InitializeRuntimeBase();\n", "RB_IMPORT, which is not defined under"),
    ("int main() { return InitializeRuntimeBase() != 0; }\n", "no declaration of InitializeRuntimeBase"),
    ("#ifdef FEATURE_SPLIT\n#define DLL_IMPORT\n#endif\nextern \"C\" DLL_IMPORT void* InitializeRuntimeBase();\n",
     "defined only for Windows"),  # a condition it cannot know to hold on Linux is not assumed to
    (("/*\n#define DLL_IMPORT\n*/\n#ifdef TARGET_WINDOWS\n#define DLL_IMPORT __declspec(dllimport)\n#endif\n"
      "extern \"C\" DLL_IMPORT void* InitializeRuntimeBase(); // #define DLL_IMPORT\n"), "defined only for Windows"),
])
def test_what_is_not_a_linux_split_is_explained(tmp_path, source, reason):
    split = split_with(tmp_path, source)
    assert not split.ready and reason in split.reason, split.reason


def test_the_linux_leg_fails_before_building(tmp_path):
    checkout = make_fork(tmp_path / "fork", OUTPLACE_WINDOWS_ONLY)
    with pytest.raises(CiError, match=r"^linux-x64: the fork has no Linux split yet, so nothing was built: .*DLL_IMPORT"):
        fork_link.build_runtime_base(checkout, LINUX_X64, tmp_path / "out", "Debug")
    assert not (checkout / fork_build.STATE_DIR).exists() and not (tmp_path / "out").exists()


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
                        "-a", "x64", "-os", "linux")
    assert cmd.cwd == checkout and "ROOTFS_DIR" not in cmd.env


def test_linux_arm64_on_x64_is_a_cross_build_with_a_rootfs(checkout):
    arm64 = platforms.get_platform("linux-arm64")
    with pytest.raises(CiError, match="cross build: set ROOTFS_DIR"):
        fork_build.command(request(checkout, arm64), host="linux-x64")
    cmd = fork_build.command(request(checkout, arm64, rootfs=Path("/crossrootfs/arm64")), host="linux-x64")
    assert cmd.argv[-3:] == ("-os", "linux", "--cross") and cmd.env["ROOTFS_DIR"] == "/crossrootfs/arm64"


def test_windows_builds_on_windows_only(checkout):
    with pytest.raises(CiError, match="win-x64: the fork builds it on a win host only"):
        fork_build.command(request(checkout, windows()), host="linux-x64")
    cmd = fork_build.command(request(checkout, windows()), host="win-x64")
    assert cmd.argv[:3] == ("cmd.exe", "/c", str(checkout / "build.cmd")) and cmd.argv[-2:] == ("-os", "windows")


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


def test_split_sources_are_fine_with_both_bootstrappers(checkout):
    assert fork_checkout.linux_split(checkout).ready
    (checkout / BOOTSTRAP_DIR / "baseoutplace.cpp").write_text(OUTPLACE_SPLIT.replace("#else\n#define DLL_IMPORT\n", ""))
    assert not fork_checkout.linux_split(checkout).ready


def test_in_ci_progress_is_a_plain_line_a_minute(monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    with fork_build.watching("fork build linux-x64") as watch:
        for lines, elapsed, last in ((10, 30.0, "a"), (20, 61.0, "b"), (30, 90.0, "c"), (40, 125.0, "d")):
            watch(lines, elapsed, last)
    assert capsys.readouterr().out.splitlines() == [
        "  fork build linux-x64: 20 lines after 1m01s: b", "  fork build linux-x64: 40 lines after 2m05s: d"]
