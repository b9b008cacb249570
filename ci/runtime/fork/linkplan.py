"""The link plan: ILC and linker response files for Runtime.Base and each C# sample app.

What goes on each command line is data (ci/data/linkplan.json); this module fills in paths from
the fork's layout and the tools found on this machine. A plan is files to write and commands to
run: `python -m ci plan` prints it without running anything, the fork build runs its Runtime.Base
part. Tools are found, never hard-coded: MSVC through vswhere, the Windows SDK through the
registry (or a folder given), clang or gcc, lld and objcopy on PATH.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci.runtime import exports
from ci.core.errors import CiError, InputError
from ci.core.resources import data_file, source_tree
from ci.platforms import Platform, host_rid
from ci.platforms.buildhost import VC_VERSION_FILE, default_vswhere, registry_kits_root
from ci.runtime.fork import stand_in
from ci.runtime.fork.layout import SDK_BUILD, SDK_FRAMEWORK, SDK_LIBS, SDK_TOOLS, ForkLayout, Product
from ci.core.proc import run_tool

LINKPLAN = data_file("linkplan.json")
RUNTIME_BASE = "Runtime.Base"


@dataclass(frozen=True)
class Step:
    argv: tuple[str, ...]
    cwd: Path

    def __str__(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class Part:
    """One binary: Runtime.Base or an app."""

    name: str
    files: dict[Path, str]  # written before the steps run: response files, the exports file
    steps: tuple[Step, ...]
    inputs: tuple[Product, ...]  # what the fork's build must have made
    outputs: dict[str, Path]  # role -> file


@dataclass(frozen=True)
class Plan:
    runtime: Part
    apps: tuple[Part, ...]

    @property
    def parts(self) -> tuple[Part, ...]:
        return (self.runtime, *self.apps)


@dataclass(frozen=True)
class Toolset:
    linker: str  # link.exe, clang or <triplet>-gcc
    linker_args: tuple[str, ...] = ()  # driver flags: --target, -fuse-ld, --sysroot
    lib_paths: tuple[Path, ...] = ()  # MSVC and Windows SDK library folders
    objcopy: str = ""  # for the symbol split (Linux)


# --- data -----------------------------------------------------------------------------------


def load(path: Path = LINKPLAN) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read the link plan ({exc.strerror})") from None
    except ValueError as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None


def _expand(items: list, values: dict[str, str], arch: str) -> list[str]:
    """Arguments for `arch`, placeholders filled in."""
    args = []
    for item in items:
        if isinstance(item, dict):
            if arch not in item["arch"]:
                continue
            item = item["arg"]
        try:
            args.append(item.format_map(values))
        except KeyError as exc:
            raise InputError(LINKPLAN, f"unknown placeholder {{{exc.args[0]}}} in {item!r}") from None
    return args


def samples_dir() -> Path:
    """The C# sample apps the fork's toolchain compiles."""
    return source_tree("samples")


def sample_names(samples: Path | None = None) -> list[str]:
    """Every C# sample: a folder holding <name>/<name>.csproj."""
    return sorted(p.parent.name for p in (samples or samples_dir()).glob("*/*.csproj") if p.stem == p.parent.name)


# --- response files -------------------------------------------------------------------------


def rsp_text(args: Sequence[str | Path], style: str) -> str:
    """One argument per line, quoted when needed.

    'line' (ILC, link.exe): a line is one argument, surrounding quotes are stripped, no escapes.
    'gnu' (gcc/clang @file): quotes group words, backslash escapes.
    """
    return "".join(_quote(str(arg), style) + "\n" for arg in args)


def _quote(arg: str, style: str) -> str:
    if style == "gnu":
        if arg and not any(c.isspace() or c in "'\"\\" for c in arg):
            return arg
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if '"' in arg or "\n" in arg:
        raise CiError(f"{arg!r}: a quote or newline cannot go in a response file for ILC or link.exe")
    plain = arg and not any(c.isspace() for c in arg) and not arg.startswith("#")
    return arg if plain else f'"{arg}"'


# --- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    layout: ForkLayout
    tools: Toolset
    out: Path
    data: dict
    version: str | None = None  # the runtime package's, which the C# samples report

    @property
    def platform(self) -> Platform:
        return self.layout.platform

    def name(self, kind: str, stem: str) -> str:
        return self.data["names"][self.platform.os][kind].format(stem)

    @property
    def link(self) -> dict:
        return self.data["link"][self.platform.os]

    def values(self, **extra: str | Path) -> dict[str, str]:
        p = self.platform
        base = {"os": p.os, "arch": p.arch, "rid": p.rid, "checkout": self.layout.checkout,
                "windows_apis": self.layout.windows_apis.path, "objcopy": self.tools.objcopy}
        return {k: str(v) for k, v in {**base, **extra}.items()}

    def ilc_args(self, kind: str, values: dict[str, str]) -> list[str]:
        ilc = self.data["ilc"]
        items = [*ilc["common"], *ilc["configuration"][self.layout.configuration], *ilc[kind]["all"],
                 *ilc[kind][self.platform.os]]
        return _expand(items, values, self.platform.arch)

    def link_args(self, kind: str, values: dict[str, str], inputs: list[Path]) -> list[str]:
        """Driver flags, the part's own arguments, inputs in link order, then the shared flags."""
        link, arch = self.link, self.platform.arch
        return [
            *self.tools.linker_args, *_expand(link[kind]["args"], values, arch), *map(str, inputs),
            *(link["system_lib"].format(lib) for lib in link["system_libs"]),
            *(link["lib_path"].format(path) for path in self.tools.lib_paths),
            *_expand(link["common"], values, arch), *_expand(link["configuration"][self.layout.configuration], values, arch),
        ]

    def aotsdk(self, kind: str) -> list[Product]:
        arch = self.platform.arch
        entries = [e for e in self.link[kind]["aotsdk"] if arch in e.get("arch", [arch])]
        kinds = [("lib" if "lib" in e else "obj", e) for e in entries]
        return [self.layout.aotsdk(kind, entry[kind]) for kind, entry in kinds]

    def rsp(self, name: str, tool: str, args: list[str], style: str) -> tuple[Path, str]:
        return self.out / "rsp" / f"{name}.{tool}.rsp", rsp_text(args, style)


def make_plan(layout: ForkLayout, tools: Toolset, out: Path, apps: Sequence[str] = (),
              runtime_dir: Path | None = None, data: dict | None = None, version: str | None = None) -> Plan:
    """Runtime.Base into <out>/lib, then each app into <out>/apps, linked against `runtime_dir`."""
    ctx = _Context(layout, tools, out, data or load(), version)
    runtime = _runtime_part(ctx)
    runtime_dir = runtime_dir or runtime.outputs["library"].parent
    return Plan(runtime, tuple(_app_part(ctx, name, runtime_dir) for name in apps))


def _runtime_part(ctx: _Context) -> Part:
    os_name, lib_dir = ctx.platform.os, ctx.out / "lib"
    obj = ctx.out / "obj" / ctx.name("object", RUNTIME_BASE)
    library = lib_dir / ctx.name("library", RUNTIME_BASE)
    debug = lib_dir / ctx.name("debug", RUNTIME_BASE)
    exports_file = ctx.out / "rsp" / ctx.name("exports", RUNTIME_BASE)
    ilc_exports = obj.with_name(exports_file.name)  # ILC's own, compared with ours after it ran
    values = ctx.values(ilc_exports=ilc_exports, exports=exports_file, output=library, library=library.name, debug=debug)
    listed = exports.read_exports()
    il = ctx.layout.runtime_base_il
    ilc_args = [str(il.path), f"-o:{obj}", *ctx.ilc_args("runtime_base", values), *exports.ilc_export_args(listed, os_name)]
    sdk = ctx.aotsdk("runtime_base")
    link_args = ctx.link_args("runtime_base", values, [obj, *(p.path for p in sdk)])
    ilc_rsp, ilc_text = ctx.rsp(RUNTIME_BASE, "ilc", ilc_args, "line")
    link_rsp, link_text = ctx.rsp(RUNTIME_BASE, "link", link_args, ctx.link["response_file"])
    exports_text = exports.def_file(listed, library.name) if os_name == "win" else exports.version_script(listed)
    # Each step runs in its output's folder: run() creates it (ILC and the linkers do not).
    ilc = Step((str(ctx.layout.ilc.path), f"@{ilc_rsp}"), obj.parent)
    link = Step((ctx.tools.linker, f"@{link_rsp}"), lib_dir)
    after = [Step(tuple(_expand(argv, values, ctx.platform.arch)), lib_dir) for argv in ctx.link["runtime_base"].get("after", [])]
    return Part(
        name=RUNTIME_BASE,
        files={ilc_rsp: ilc_text, link_rsp: link_text, exports_file: exports_text},
        steps=(ilc, link, *after),
        inputs=(ctx.layout.ilc, il, *sdk),
        outputs={"library": library, "link": lib_dir / ctx.name("import", RUNTIME_BASE), "debug": debug,
                 "ilc_exports": ilc_exports},
    )


def _app_part(ctx: _Context, name: str, runtime_dir: Path) -> Part:
    layout, app_dir = ctx.layout, ctx.out / "apps" / name
    project = samples_dir() / name / f"{name}.csproj"
    il = app_dir / "il" / f"{name}.dll"
    obj = app_dir / ctx.name("object", name)
    exe = ctx.out / "apps" / "bin" / ctx.name("exe", name)
    values = ctx.values(output=exe, runtime_rpath=os.path.relpath(runtime_dir, exe.parent))
    references = [layout.outplace_corelib, *map(layout.aotsdk_assembly, ctx.data["ilc"]["app"]["aotsdk_references"])]
    ilc_args = [str(il), f"-o:{obj}", *(f"-r:{p.path}" for p in references), f"-r:{layout.framework.path / '*.dll'}",
                *ctx.ilc_args("app", values)]
    native = [layout.framework_native(lib) for lib in ctx.link["app"]["framework_native"]]
    sdk = ctx.aotsdk("app")
    runtime_import = runtime_dir / ctx.name("import", RUNTIME_BASE)
    link_args = ctx.link_args("app", values, [obj, *(p.path for p in (*native, *sdk)), runtime_import])
    ilc_rsp, ilc_text = ctx.rsp(name, "ilc", ilc_args, "line")
    link_rsp, link_text = ctx.rsp(name, "link", link_args, ctx.link["response_file"])
    version = [f"-p:RuntimeBaseVersion={ctx.version}"] if ctx.version else []
    return Part(
        name=name,
        files={ilc_rsp: ilc_text, link_rsp: link_text},
        steps=(
            Step((str(layout.dotnet), "build", str(project), "-c", "Release", "-o", str(il.parent), "--nologo", *version),
                 project.parent),
            Step((str(layout.ilc.path), f"@{ilc_rsp}"), app_dir),
            Step((ctx.tools.linker, f"@{link_rsp}"), exe.parent),
        ),
        inputs=(layout.ilc, *references, layout.framework, *native, *sdk),
        outputs={"exe": exe},
    )


def sdk_files(layout: ForkLayout, data: dict | None = None) -> dict[str, Product]:
    """What an app build needs beside the runtime package, by its path in the SDK package
    (SdkLayout reads them back from there): the same products the app parts of the plan use."""
    data = data or load()
    link = data["link"][layout.platform.os]
    arch = layout.platform.arch
    ilc, framework = layout.ilc, layout.framework
    tools = sorted(p for p in ilc.path.parent.rglob("*") if p.is_file()) or [ilc.path]  # ILC with its side files
    files = {f"{SDK_TOOLS}/{p.relative_to(ilc.path.parent).as_posix()}": Product(p, ilc.made_by) for p in tools}
    files |= {f"{SDK_FRAMEWORK}/{p.name}": Product(p, framework.made_by) for p in sorted(framework.path.glob("*.dll"))}
    products = [(SDK_FRAMEWORK, layout.outplace_corelib)]
    products += [(SDK_FRAMEWORK, layout.framework_native(n)) for n in link["app"]["framework_native"]]
    products += [(SDK_LIBS, layout.aotsdk_assembly(n)) for n in data["ilc"]["app"]["aotsdk_references"]]
    if layout.platform.os == "win":  # --directpinvokelist
        products.append((SDK_BUILD, layout.windows_apis))
    products += [(SDK_LIBS, layout.aotsdk("lib" if "lib" in e else "obj", e.get("lib") or e["obj"]))
                 for e in link["app"]["aotsdk"] if arch in e.get("arch", [arch])]
    return files | {f"{folder}/{product.path.name}": product for folder, product in products}


def write_files(part: Part) -> None:
    for path, text in part.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def run(part: Part) -> list[str]:
    """Write the part's files, then run its steps in order; returns the tools that said they are stand-ins."""
    write_files(part)
    stand_ins = []
    for step in part.steps:
        step.cwd.mkdir(parents=True, exist_ok=True)
        if stand_in.announced(run_tool(step.argv, cwd=step.cwd)):
            stand_ins.append(Path(step.argv[0]).name)
    return stand_ins


# --- tools ----------------------------------------------------------------------------------

VC_COMPONENTS = {"x64": "Microsoft.VisualStudio.Component.VC.Tools.x86.x64",
                 "arm64": "Microsoft.VisualStudio.Component.VC.Tools.ARM64"}


def find_tools(platform: Platform, rootfs: Path | None = None, vswhere: Path | None = None,
               windows_kits: Path | None = None) -> Toolset:
    if platform.os == "win":
        return windows_tools(platform.arch, vswhere, windows_kits)
    return linux_tools(platform, rootfs)


def windows_tools(arch: str, vswhere: Path | None = None, kits_root: Path | None = None,
                  host_arch: str | None = None) -> Toolset:
    """link.exe and the library folders of MSVC and the Windows SDK for `arch`."""
    install = visual_studio(arch, vswhere or default_vswhere())
    link, msvc_lib = msvc(install, arch, host_arch or _windows_host_arch(arch))
    return Toolset(linker=str(link), lib_paths=(msvc_lib, *windows_sdk(kits_root or registry_kits_root(), arch)))


#: What a dry run made off Windows writes for a path only the Windows host resolves.
ON_WINDOWS_HOST = "resolved on the Windows host"
#: Both Windows rids are built on x64 runners: arm64 with MSVC's amd64_arm64 tools (Hostx64/arm64),
#: as upstream cross-builds it (dotnet/runtime eng/pipelines/common/global-build-job.yml @ 00869a8).
BUILD_HOST_ARCH = "x64"


def deferred_windows_tools(arch: str) -> Toolset:
    """link.exe and the MSVC and Windows SDK library folders for a plan made off Windows: each path
    says what finds it on the Windows host (vswhere, KitsRoot10), where the same plan resolves them."""
    msvc_dir = f"<MSVC: vswhere -requires {VC_COMPONENTS[arch]}, {ON_WINDOWS_HOST}>"
    sdk_dir = f"<Windows SDK: KitsRoot10 Lib\\<newest 10.*>, {ON_WINDOWS_HOST}>"
    return Toolset(linker=f"{msvc_dir}\\bin\\Host{BUILD_HOST_ARCH}\\{arch}\\link.exe",
                   lib_paths=(Path(f"{msvc_dir}\\lib\\{arch}"), Path(f"{sdk_dir}\\um\\{arch}"),
                              Path(f"{sdk_dir}\\ucrt\\{arch}")))


def _windows_host_arch(target_arch: str) -> str:
    """This machine's architecture on Windows; elsewhere (a plan made on Linux) the build runner's."""
    os_name, _, arch = host_rid().partition("-")
    return arch if os_name == "win" else BUILD_HOST_ARCH


def visual_studio(arch: str, vswhere: Path) -> Path:
    if not vswhere.is_file():
        raise CiError(f"{vswhere}: vswhere not found: install Visual Studio 2022 17.3+ or 2026 with "
                      "'Desktop development with C++' (or pass --vswhere)")
    found = run_tool([vswhere, "-latest", "-products", "*", "-requires", VC_COMPONENTS[arch],
                      "-property", "installationPath"]).strip()
    if not found:
        raise CiError(f"vswhere found no Visual Studio with {VC_COMPONENTS[arch]} (the MSVC {arch} build tools)")
    return Path(found.splitlines()[0])


def msvc(install: Path, arch: str, host_arch: str) -> tuple[Path, Path]:
    """(link.exe, lib folder) of the default MSVC toolset of a Visual Studio installation."""
    version_file = install / VC_VERSION_FILE
    try:
        version = version_file.read_text(encoding="utf-8-sig").strip()
    except OSError:
        raise InputError(version_file, "missing: Visual Studio has no default MSVC toolset") from None
    tools = install / "VC" / "Tools" / "MSVC" / version
    link, lib = tools / "bin" / f"Host{host_arch}" / arch / "link.exe", tools / "lib" / arch
    for path in (link, lib):
        if not path.exists():
            raise InputError(path, f"missing: MSVC {version} has no {arch} tools (install them with the Visual Studio Installer)")
    return link, lib


def windows_sdk(kits_root: Path, arch: str) -> tuple[Path, Path]:
    """(um, ucrt) library folders of the newest Windows 10/11 SDK under `kits_root` that has both."""
    def complete(version: Path) -> bool:
        return (version / "um" / arch / "kernel32.lib").is_file() and (version / "ucrt" / arch / "ucrt.lib").is_file()

    versions = [v for v in (kits_root / "Lib").glob("10.*") if complete(v)]
    if not versions:
        raise InputError(kits_root / "Lib", f"no Windows SDK with um/{arch}/kernel32.lib and ucrt/{arch}/ucrt.lib")
    newest = max(versions, key=lambda v: tuple(int(n) for n in v.name.split(".") if n.isdigit()))
    return newest / "um" / arch, newest / "ucrt" / arch


def linux_tools(platform: Platform, rootfs: Path | None = None,
                which: Callable[[str], str | None] = shutil.which) -> Toolset:
    """The clang driver (gcc as fallback) with lld when present, and an objcopy for the symbol split."""
    triplet = platform.toolchain.triplet
    if which("clang"):
        linker, args = "clang", [f"--target={triplet}"]
    elif which(f"{triplet}-gcc"):
        linker, args = f"{triplet}-gcc", []
    else:
        raise CiError(f"no C driver to link {platform.rid}: install clang (or {triplet}-gcc)")
    args.append("-fuse-ld=lld" if which("ld.lld") else "-fuse-ld=bfd")
    if rootfs:
        args.append(f"--sysroot={rootfs}")
    objcopy = next((tool for tool in ("llvm-objcopy", f"{triplet}-objcopy", "objcopy") if which(tool)), None)
    if objcopy is None:
        raise CiError("no objcopy to split debug symbols: install llvm or binutils")
    return Toolset(linker=linker, linker_args=tuple(args), objcopy=objcopy)
