"""The link plan: the fork's hand-written Windows commands, generated; Linux ones that real tools accept."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path, PureWindowsPath

import pytest

from ci import platforms
from ci.core.errors import CiError, InputError
from ci.runtime import exports
from ci.runtime.fork import linkplan
from ci.runtime.fork.layout import ForkLayout, SdkLayout
from tests.fixtures.fake_fork import FILES, make_fake_windows, touch, windows

HANDWRITTEN = json.loads((Path(__file__).parent.parent / "fixtures" / "fork_handwritten_win_x64.json").read_text())
MSVC, OLDER_MSVC, SDK = "14.41.34120", "14.38.33130", "10.0.22621.0"


@pytest.fixture
def fake_windows(tmp_path) -> dict:
    return make_fake_windows(tmp_path, MSVC, OLDER_MSVC, SDK)


@pytest.fixture
def checkout(tmp_path) -> Path:
    for rel, text in FILES.items():
        touch(tmp_path / "fork" / rel, text)
    return tmp_path / "fork"


def win_plan(checkout: Path, fake: dict, out: Path, configuration: str = "Debug", arch: str = "x64",
             apps: tuple[str, ...] = ("hello",)) -> linkplan.Plan:
    tools = linkplan.windows_tools(arch, fake["vswhere"], fake["kits"], host_arch=arch)
    return linkplan.make_plan(ForkLayout(checkout, windows(arch), configuration), tools, out, apps)


def read_ilc_rsp(text: str) -> list[str]:
    """ILC's own rules (Helpers.TryReadResponseFile): a line is one argument, surrounding quotes stripped."""
    lines = [line.strip() for line in text.splitlines()]
    return [line[1:-1] if line.startswith('"') and line.endswith('"') else line for line in lines if line]


def rsp(part: linkplan.Part, tool: str) -> list[str]:
    return read_ilc_rsp(next(text for path, text in part.files.items() if path.name.endswith(f".{tool}.rsp")))


def names(args: list[str], app: str = "program") -> Counter:
    """Arguments with every path cut to its file name (the fork's are relative, ours absolute)."""
    def cut(arg: str) -> str:
        if re.match(r"-|/[A-Z]", arg):  # an option (link.exe's are upper case), maybe with a path after ':'
            option, sep, value = arg.partition(":")
        else:
            option, sep, value = "", "", arg
        if sep or not option:
            value = PureWindowsPath(value).name if "/" in value or "\\" in value else value
        return (option + sep + value).replace("program", app)
    return Counter(cut(a) for a in args if not a.startswith("/LIBPATH:"))


def test_windows_runtime_base_has_the_forks_handwritten_arguments(checkout, fake_windows, tmp_path):
    part = win_plan(checkout, fake_windows, tmp_path / "out").runtime
    expected_exports = [f"--export-dynamic-symbol:{e.name}{',DATA' if e.data else ''}" for e in exports.read_exports()]
    assert names(rsp(part, "ilc")) == names(HANDWRITTEN["runtime_base"]["ilc"] + expected_exports)
    assert names(rsp(part, "link")) == names(HANDWRITTEN["runtime_base"]["link"])
    assert f"--directpinvokelist:{checkout / 'src/coreclr/nativeaot/BuildIntegration/WindowsAPIs.txt'}" in rsp(part, "ilc")


def test_libpaths_come_from_discovery_not_from_hard_coded_versions(checkout, fake_windows, tmp_path):
    part = win_plan(checkout, fake_windows, tmp_path / "out").runtime
    libpaths = [Path(a.removeprefix("/LIBPATH:")) for a in rsp(part, "link") if a.startswith("/LIBPATH:")]
    roots = {"Microsoft Visual Studio": fake_windows["vs"], "Windows Kits": fake_windows["kits"]}
    expected = [next(path for key, path in roots.items() if key in root) / PureWindowsPath(tail).as_posix()
                for root, tail in HANDWRITTEN["runtime_base"]["libpaths"]]
    assert libpaths == expected  # the default MSVC (not the older one), the newest complete SDK
    assert fake_windows["calls"].read_text().split("\n")[:-1] == [
        "-latest", "-products", "*", "-requires", "Microsoft.VisualStudio.Component.VC.Tools.x86.x64",
        "-property", "installationPath"]
    assert part.steps[1].argv[0] == str(fake_windows["vs"] / f"VC/Tools/MSVC/{MSVC}/bin/Hostx64/x64/link.exe")


def test_paths_with_spaces_are_quoted_one_per_line(checkout, fake_windows, tmp_path):
    part = win_plan(checkout, fake_windows, tmp_path / "out").runtime
    text = next(t for p, t in part.files.items() if p.name == "Runtime.Base.link.rsp")
    assert f'"/LIBPATH:{fake_windows["vs"]}/VC/Tools/MSVC/{MSVC}/lib/x64"' in text.splitlines()


def test_release_adds_the_release_flags_and_optimizes(checkout, fake_windows, tmp_path):
    debug = win_plan(checkout, fake_windows, tmp_path / "debug").runtime
    release = win_plan(checkout, fake_windows, tmp_path / "release", "Release").runtime
    assert names(rsp(release, "link")) - names(rsp(debug, "link")) == Counter(HANDWRITTEN["runtime_base"]["release_adds"])
    assert names(rsp(debug, "link")) - names(rsp(release, "link")) == Counter()
    assert names(rsp(release, "ilc")) - names(rsp(debug, "ilc")) == Counter(["-O"])


def test_the_def_file_comes_from_the_export_list(checkout, fake_windows, tmp_path):
    part = win_plan(checkout, fake_windows, tmp_path / "out").runtime
    def_text = next(t for p, t in part.files.items() if p.suffix == ".def")
    assert def_text == exports.def_file(exports.read_exports(), "Runtime.Base.dll")
    assert f"/DEF:{next(p for p in part.files if p.suffix == '.def')}" in rsp(part, "link")


def test_windows_app_has_the_forks_handwritten_arguments(checkout, fake_windows, tmp_path):
    plan = win_plan(checkout, fake_windows, tmp_path / "out")
    app = plan.apps[0]
    assert names(rsp(app, "ilc"), "hello") == names(HANDWRITTEN["app"]["ilc"], "hello")
    generated, handwritten = names(rsp(app, "link"), "hello"), names(HANDWRITTEN["app"]["link"], "hello")
    shared = Counter(["/OUT:hello.exe", "/NOLOGO", "/MANIFEST:NO", "/DEBUG", "/INCREMENTAL:NO", "/IGNORE:4104", "/CETCOMPAT"])
    assert generated == handwritten + shared
    assert f"/LIBPATH:{fake_windows['kits']}/Lib/{SDK}/um/x64" in rsp(app, "link")


def test_arm64_needs_the_arm64_tools_and_has_no_cetcompat(checkout, fake_windows, tmp_path):
    part = win_plan(checkout, fake_windows, tmp_path / "out", arch="arm64").runtime
    assert "Microsoft.VisualStudio.Component.VC.Tools.ARM64" in fake_windows["calls"].read_text()
    assert "/CETCOMPAT" not in rsp(part, "link") and "--targetarch:arm64" in rsp(part, "ilc")
    assert part.steps[1].argv[0].endswith("Hostarm64/arm64/link.exe")


def test_missing_msvc_version_file_is_named(fake_windows):
    (fake_windows["vs"] / linkplan.VC_VERSION_FILE).unlink()
    with pytest.raises(InputError, match=r"Microsoft.VCToolsVersion.default.txt: missing"):
        linkplan.windows_tools("x64", fake_windows["vswhere"], fake_windows["kits"], host_arch="x64")


def test_no_complete_sdk_is_an_error(fake_windows, tmp_path):
    kits = tmp_path / "empty kits"
    touch(kits / "Lib" / "10.0.26100.0" / "um" / "x64" / "kernel32.lib")
    with pytest.raises(InputError, match=r"no Windows SDK with um/x64/kernel32.lib and ucrt/x64/ucrt.lib"):
        linkplan.windows_tools("x64", fake_windows["vswhere"], kits, host_arch="x64")


def test_without_vswhere_says_what_to_install(tmp_path):
    with pytest.raises(CiError, match="vswhere not found: install Visual Studio 2022"):
        linkplan.windows_tools("x64", tmp_path / "vswhere.exe", tmp_path, host_arch="x64")


# --- Linux ----------------------------------------------------------------------------------


def linux_plan(checkout: Path, out: Path, rid: str = "linux-x64") -> linkplan.Plan:
    platform = platforms.get_platform(rid)
    return linkplan.make_plan(ForkLayout(checkout, platform, "Debug"), linkplan.linux_tools(platform), out,
                              linkplan.sample_names())


def test_linux_exports_drop_data_and_ld_accepts_the_version_script(checkout, tmp_path):
    part = linux_plan(checkout, tmp_path / "out").runtime
    assert not [a for a in rsp(part, "ilc") if a.endswith(",DATA")]
    assert "--export-dynamic-symbol:g_cpuFeatures" in rsp(part, "ilc")
    script = next(p for p in part.files if p.suffix == ".exports")
    linkplan.write_files(part)
    source = touch(tmp_path / "exports.c", "".join(f"void {e.name}(void) {{}}\n" for e in exports.read_exports()))
    done = subprocess.run(["gcc", "-shared", "-fPIC", "-o", tmp_path / "lib.so", source, f"-Wl,--version-script={script}"],
                          check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_linux_link_follows_upstream(checkout, tmp_path):
    part = linux_plan(checkout, tmp_path / "out").runtime
    link = part.files[next(p for p in part.files if p.name == "Runtime.Base.link.rsp")].split()
    for flag in ("-shared", "-Wl,--build-id=sha1", "-Wl,--as-needed", "-Wl,-z,relro", "-Wl,-z,now",
                 "-Wl,--eh-frame-hdr", "-ldl", "-lrt", "-lm", "-pthread", "-Wl,-soname,libRuntime.Base.so.10"):
        assert flag in link
    libs = [Path(a).name for a in link if a.endswith((".a", ".o"))]
    assert libs == ["Runtime.Base.o", "libbootstrapperruntimebase.o", "libRuntime.WorkstationGC.a", "libeventpipe-disabled.a",
                    "libRuntime.VxsortEnabled.a", "libstandalonegc-disabled.a", "libaotminipal.a", "libstdc++compat.a"]
    assert [s.argv[1:3] for s in part.steps[2:]] == [
        ("--only-keep-debug", str(part.outputs["library"])), ("--strip-debug", "--strip-unneeded"),
        (f"--add-gnu-debuglink={part.outputs['debug']}", str(part.outputs["library"])),
        ("-sfn", "libRuntime.Base.so.10.0.0"), ("-sfn", "libRuntime.Base.so.10.0.0")]
    assert [Path(s.argv[3]).name for s in part.steps[-2:]] == ["libRuntime.Base.so.10", "libRuntime.Base.so"]


def test_arm64_has_no_vxsort_and_targets_aarch64(checkout, tmp_path):
    part = linux_plan(checkout, tmp_path / "out", "linux-arm64").runtime
    link = part.files[next(p for p in part.files if p.name == "Runtime.Base.link.rsp")]
    assert "Vxsort" not in link and "--target=aarch64-linux-gnu" in link.split()


def test_clang_parses_the_gnu_response_file(checkout, tmp_path):
    """A path with spaces and quotes survives clang's @file parsing (clang -### shows, runs nothing)."""
    part = linux_plan(checkout, tmp_path / "out 'dir'").runtime
    linkplan.write_files(part)
    link_rsp = next(p for p in part.files if p.name == "Runtime.Base.link.rsp")
    done = subprocess.run(["clang", "-###", f"@{link_rsp}"], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert str(part.outputs["library"]).replace('"', '\\"') in done.stderr  # one argument, quotes intact


@pytest.mark.parametrize("arg, line", [
    ("plain", "plain"), ("has space", '"has space"'), ("#hash", '"#hash"'), ("", '""')])
def test_line_style_quotes_when_needed(arg, line):
    assert linkplan.rsp_text([arg], "line") == line + "\n"
    assert read_ilc_rsp(line) == [arg] or arg == ""


def test_line_style_cannot_carry_quotes():
    with pytest.raises(CiError, match="cannot go in a response file"):
        linkplan.rsp_text(['a"b'], "line")


def test_unknown_placeholder_names_the_link_plan(checkout, tmp_path):
    data = linkplan.load()
    data["ilc"]["common"].append("--bad:{nope}")
    platform = platforms.get_platform("linux-x64")
    with pytest.raises(InputError, match=r"linkplan.json: unknown placeholder \{nope\}"):
        linkplan.make_plan(ForkLayout(checkout, platform, "Debug"), linkplan.linux_tools(platform), tmp_path, data=data)


def test_linux_tools_fall_back_to_gcc_and_bfd():
    found = {"x86_64-linux-gnu-gcc", "objcopy"}
    tools = linkplan.linux_tools(platforms.get_platform("linux-x64"), Path("/rootfs"), which=lambda t: t if t in found else None)
    assert (tools.linker, tools.linker_args, tools.objcopy) == (
        "x86_64-linux-gnu-gcc", ("-fuse-ld=bfd", "--sysroot=/rootfs"), "objcopy")


# --- the C# samples -------------------------------------------------------------------------


def test_every_sample_is_a_net10_project_listed_in_the_plan(checkout, tmp_path):
    samples = linkplan.sample_names()
    assert samples == ["alloc", "exception_filter", "hello", "threads"]
    for name in samples:
        project = ET.parse(linkplan.samples_dir() / name / f"{name}.csproj").getroot()
        assert project.get("Sdk") == "Microsoft.NET.Sdk"
        assert project.findtext("PropertyGroup/TargetFramework") == "net10.0"
        assert project.findtext("PropertyGroup/AssemblyName") == name
        program = (linkplan.samples_dir() / name / "Program.cs").read_text()
        assert f'new AppReport("{name}", args)' in program and ".Finish(" in program
    plan = linux_plan(checkout, tmp_path / "out")
    assert [app.name for app in plan.apps] == samples
    for app in plan.apps:
        assert [Path(s.argv[0]).name for s in app.steps] == ["dotnet.sh", "ilc", "clang"]


def test_the_shared_report_prints_the_common_keys():
    props = ET.parse(linkplan.samples_dir() / "Directory.Build.props").getroot()
    assert props.find("ItemGroup/Compile").get("Include").endswith("Common/AppReport.cs")
    report = (linkplan.samples_dir() / "Common" / "AppReport.cs").read_text()
    for key in ("app", "pid", "instance", "runtime_path", "version"):
        assert f'Add("{key}"' in report
    assert "Environment.ProcessId" in report and "--hold" in report


@pytest.mark.parametrize("rid", ["win-x64", "win-arm64", "linux-x64", "linux-arm64"])
def test_the_sdk_package_holds_exactly_what_an_app_plan_from_it_reads(rid, tmp_path):
    """sdk_files (what the package stage puts in the SDK archive) and SdkLayout (where the apps
    stage reads it back) agree: every input of an app part built from the SDK is in the package."""
    platform = platforms.PLATFORMS.get(rid) or windows(rid.split("-")[1])
    fork = ForkLayout(tmp_path / "fork", platform, "Release")
    touch(fork.ilc.path, "ilc")
    touch(fork.framework.path / "System.Runtime.dll", "ref")
    packaged = set(linkplan.sdk_files(fork))
    sdk = SdkLayout(tmp_path / "sdk", platform, "Release", dotnet_path=Path("dotnet"))
    plan = linkplan.make_plan(sdk, linkplan.Toolset(linker="ld"), tmp_path / "out", ["hello"], runtime_dir=tmp_path / "rt",
                              version="10.0.0-fork.0123456789ab")
    read = {p.path.relative_to(sdk.checkout).as_posix() for p in plan.apps[0].inputs if p != sdk.framework}
    assert read <= packaged and "framework/System.Runtime.dll" in packaged
    assert {"tools/" + fork.ilc.path.name, "framework/System.Private.CoreLib.dll"} <= read
    assert plan.apps[0].steps[0].argv[0] == "dotnet"
