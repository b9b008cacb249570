"""The one door to the container engine (docker SDK): images, nox sessions in containers, files in and out.

Files go in and out as tar streams, never bind mounts: mounts break on remote engines and on
Windows hosts. Every container carries LABEL and is removed on success, failure, Ctrl-C and SIGTERM.
Linux rids run in the Linux build image (containers/linux); win-x64 in the Windows image
(containers/windows) on a Windows host's engine, process-isolated: the same calls, another `Guest`.
"""

from __future__ import annotations

import functools
import io
import os
import signal
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import docker
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.models.containers import Container

from ci.containers import images
from ci.core import cache
from ci.core.console import console, progress
from ci.core.errors import CiError
from ci.core.git import git
from ci.core.resources import checkout_root
from ci.platforms import Platform
from ci.platforms.arch import arch as arch_of
from ci.platforms.arch import host_arch
from ci.redist import archive
from ci.redist.checksums import SUMS, write_sums
from ci.redist.dist import SUMMED_SUFFIXES

LABEL = "runtime-base-ci"  # on every container made here: tests look for leftovers by it
KEY_LABEL = "runtime-base-ci.key"  # on images: the content hash they were built from
DOCKERFILE = Path("containers/linux/Dockerfile")  # in the checkout
WINDOWS_DOCKERFILE = Path("containers/windows/Dockerfile")
SRC = "/src"
# GITHUB_* variables that name files on the host: written inside, they would go nowhere.
HOST_FILE_VARS = {"GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STATE", "GITHUB_STEP_SUMMARY"}
# ...except the job summary: the session writes it here, and it is appended to the host's after the run.
SUMMARY = "/tmp/github-step-summary.md"
SUMMARY_LIMIT = 1 << 20  # GitHub shows at most 1 MiB per step (docs: workflow commands, step isolation and limits)


@dataclass(frozen=True)
class Guest:
    """What differs between a Linux and a Windows container: where the checkout and the job summary
    go inside, how it is isolated, and the engine OS it needs."""

    engine_os: str  # the engine's OSType
    src: str  # the checkout's copy
    sep: str  # the container's path separator
    summary: str
    isolation: str | None  # None: the engine's default (Linux containers have one kind)

    def inside(self, name: str) -> str:
        """A path under the checkout's copy inside the container."""
        return f"{self.src}{self.sep}{name}"

    def docker_platform(self, platform: Platform) -> str:
        return f"{self.engine_os}/{arch_of(platform.arch).oci}"


LINUX = Guest("linux", SRC, "/", SUMMARY, None)
# Process isolation: the host's kernel, no Hyper-V utility VM; it needs the image's Windows build
# to be the host's (ltsc2025 on windows-2025).
WINDOWS = Guest("windows", "C:\\src", "\\", "C:\\github-step-summary.md", "process")


def guest(platform: Platform) -> Guest:
    return WINDOWS if platform.os == "win" else LINUX


def _require_engine_os(platform: Platform, wanted: Guest) -> None:
    """A Windows image needs a Windows engine: one line saying so, before any work."""
    found = engine().info().get("OSType", "linux")
    if found != wanted.engine_os:
        cross = (f"; {platform.rid} packages are built in the {platform.build_container} container "
                 f"(--platform {platform.build_container} --target {platform.build_target})"
                 if platform.build_container else "")
        raise CiError(f"{platform.rid}: its container needs a {wanted.engine_os} engine, this one runs {found} "
                      f"containers{cross}")


@dataclass(frozen=True)
class Image:
    tag: str
    built: bool  # False: an image with the same inputs was already in the engine


@functools.cache
def engine() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise CiError(f"container engine at {where} not reachable: {exc}") from None
    return client


# --- images ---------------------------------------------------------------------------------


def base_image(arch: str) -> str:
    """Debian bookworm for `arch` without a registry: the cached rootfs imported as an image."""
    tag = f"runtime-base-ci/debian:{images.SUITE}-{arch_of(arch).debian}"
    if not _exists(tag):
        # A one-line build rather than `docker import`: the SDK's import cannot set the architecture.
        dockerfile = b'FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n'
        _build({"Dockerfile": dockerfile, "rootfs.tar": images.rootfs_tarball(arch)}, tag, arch_of(arch).docker)
    return tag


def image_key(platform: Platform, target: str, base_id: str, wheelhouse: Path) -> str:
    """Content hash of everything an image is built from."""
    files = {"Dockerfile": checkout_root() / DOCKERFILE, **{f"wheels/{w.name}": w for w in wheelhouse.glob("*.whl")}}
    return cache.digest(files, [target, base_id, platform.arch])


def ensure_image(platform: Platform, target: str = "reference", base: str | None = None) -> Image:
    """The image for `platform` and Dockerfile `target`, built only if no image has the same inputs.

    `base` is any image (e.g. from a registry); by default the locally bootstrapped Debian, and for
    Windows the Dockerfile's Server Core (mcr.microsoft.com).
    """
    if platform.os == "win":
        return ensure_windows_image(platform, base)
    if target not in images.TARGETS:
        raise CiError(f"unknown image target {target!r}; known: {', '.join(images.TARGETS)}")
    if platform.arch != host_arch():  # its build steps and sessions run through qemu
        images.ensure_binfmt(platform.arch)
    base = base or base_image(platform.arch)
    base_id = _pull_if_missing(base, arch_of(platform.arch).docker)
    wheelhouse = images.build_wheelhouse(platform.arch)
    key = image_key(platform, target, base_id, wheelhouse)
    tag = f"runtime-base-ci/{target}:{platform.arch}-{key[:16]}"
    if _exists(tag):
        return Image(tag, built=False)
    _build({"Dockerfile": checkout_root() / DOCKERFILE, "wheels": wheelhouse}, tag, arch_of(platform.arch).docker,
           target=target, buildargs={"BASE_IMAGE": base}, labels={KEY_LABEL: key})
    return Image(tag, built=True)


def windows_build_options(base: str | None, key: str) -> dict:
    """What `docker build` of containers/windows is asked (beyond the context): process isolation."""
    return {"isolation": WINDOWS.isolation, "labels": {KEY_LABEL: key},
            "buildargs": {"BASE_IMAGE": base} if base else {}}


def ensure_windows_image(platform: Platform, base: str | None = None) -> Image:
    """containers/windows/Dockerfile on this Windows engine, built only if its inputs changed
    (the Dockerfile and, when given, the base image's id)."""
    _require_engine_os(platform, WINDOWS)
    base_id = _pull_if_missing(base, WINDOWS.docker_platform(platform)) if base else ""
    dockerfile = checkout_root() / WINDOWS_DOCKERFILE
    key = cache.digest({"Dockerfile": dockerfile}, [base_id, platform.arch])
    tag = f"runtime-base-ci/windows:{platform.arch}-{key[:16]}"
    if _exists(tag):
        return Image(tag, built=False)
    _build({"Dockerfile": dockerfile}, tag, WINDOWS.docker_platform(platform), **windows_build_options(base, key))
    return Image(tag, built=True)


def image_size(tag: str) -> int:
    return engine().images.get(tag).attrs["Size"]


def _exists(tag: str) -> bool:
    try:
        engine().images.get(tag)
    except ImageNotFound:
        return False
    return True


def _pull_if_missing(image: str, docker_platform: str) -> str:
    """The image's id; an image not in the engine is pulled (a registry base on CI)."""
    try:
        return engine().images.get(image).id
    except ImageNotFound:
        pass
    try:
        return engine().images.pull(image, platform=docker_platform).id
    except DockerException as exc:
        raise CiError(f"base image {image}: not in the engine and not pullable ({exc})") from None


def _build(context: Mapping[str, bytes | Path], tag: str, docker_platform: str, **options: object) -> None:
    """Build from an in-memory context with the log streamed; the engine's error as one line."""
    with tempfile.TemporaryFile() as tar, progress(f"building {tag}"):
        _write_context(tar, context)
        tar.seek(0)
        stream = engine().api.build(fileobj=tar, custom_context=True, tag=tag, platform=docker_platform,
                                    rm=True, forcerm=True, pull=False, decode=True, **options)
        for chunk in stream:
            if "error" in chunk:
                raise CiError(f"building {tag}: {' '.join(chunk['error'].split())}")
            console.out(chunk.get("stream", ""), end="", highlight=False)


def _write_context(out: IO[bytes], context: Mapping[str, bytes | Path]) -> None:
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, item in context.items():
            if isinstance(item, Path):
                tar.add(item, arcname=name)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(item)
                tar.addfile(info, io.BytesIO(item))


# --- sessions in containers -----------------------------------------------------------------


def run_session(platform: Platform, session: str, args: Sequence[str] = (), repo: Path | None = None,
                dist: Path = Path("dist"), target: str = "reference", base: str | None = None) -> int:
    """`nox -s SESSION -- ARGS` in the platform's container on a copy of `repo`; its dist/ comes
    back into `dist`, owned by the invoking user. Returns nox's exit code."""
    repo = repo or checkout_root()
    image = ensure_image(platform, target, base)
    box_os = guest(platform)
    command = nox_command(session, args)
    with _sigterm_as_interrupt(), _container(image.tag, command, platform) as box:
        with tempfile.TemporaryFile() as snapshot:
            write_snapshot(repo, snapshot)
            snapshot.seek(0)
            box.put_archive(box_os.src, snapshot)
        box.start()
        for chunk in box.logs(stream=True, follow=True):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        code = box.wait()["StatusCode"]
        copy_out(box, box_os.inside("dist"), dist)
        forward_summary(box, os.environ, box_os.summary)
    return code


def nox_command(session: str, args: Sequence[str] = ()) -> list[str]:
    return ["nox", "-s", session, *(["--", *args] if args else [])]


def container_options(platform: Platform, environ: Mapping[str, str]) -> dict:
    """What `docker create` is asked for a session of `platform` (beyond the image and command)."""
    box_os = guest(platform)
    options = {"working_dir": box_os.src, "environment": passed_env(environ, box_os.summary),
               "labels": {LABEL: "1"}, "platform": box_os.docker_platform(platform)}
    if box_os.isolation:
        options["isolation"] = box_os.isolation
    return options


@contextmanager
def _container(image: str, command: list[str], platform: Platform) -> Iterator[Container]:
    box = engine().containers.create(image, command, **container_options(platform, os.environ))
    try:
        yield box
    finally:
        with suppress(NotFound):
            box.remove(force=True)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) unwinds like Ctrl-C, so the container is removed."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def passed_env(environ: Mapping[str, str], summary: str = SUMMARY) -> dict[str, str]:
    """SOURCE_DATE_EPOCH, CI and GitHub's context reach the session; host file paths do not, but a
    job summary is written to a file of the container's own, `summary` (see `forward_summary`)."""
    passed = {k: v for k, v in environ.items()
              if k in ("SOURCE_DATE_EPOCH", "CI") or (k.startswith("GITHUB_") and k not in HOST_FILE_VARS)}
    if environ.get("GITHUB_STEP_SUMMARY"):
        passed["GITHUB_STEP_SUMMARY"] = summary
    return passed


def forward_summary(box: Container, environ: Mapping[str, str], summary: str = SUMMARY) -> None:
    """Append the job summary the session wrote in the container to the host's GITHUB_STEP_SUMMARY."""
    host = environ.get("GITHUB_STEP_SUMMARY")
    if not host:
        return
    try:
        stream, _ = box.get_archive(summary)
    except NotFound:
        return  # the session wrote none
    with tempfile.TemporaryFile() as raw:
        raw.writelines(stream)
        raw.seek(0)
        with tarfile.open(fileobj=raw) as tar:
            member = tar.next()
            summary_file = tar.extractfile(member) if member and member.isfile() else None
            text = summary_file.read(SUMMARY_LIMIT) if summary_file else b""
    with open(host, "ab") as out:
        out.write(text)


def snapshot_files(repo: Path) -> list[str]:
    """Tracked files and untracked ones git does not ignore, as a clone plus local edits would have."""
    listed = git(repo, "ls-files", "--cached", "--others", "--exclude-standard", "-z", required="a container snapshot")
    assert listed is not None  # required: git raises instead of answering None
    return sorted(n for n in listed.decode("utf-8", "surrogateescape").split("\0") if n and os.path.lexists(repo / n))


def write_snapshot(repo: Path, out: IO[bytes]) -> None:
    """The work tree as a tar, with .git: the manifest records the commit and uncommitted changes."""
    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0  # the container's user, so git trusts the directory
        info.uname = info.gname = "root"
        return info

    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in snapshot_files(repo):
            tar.add(repo / name, arcname=name, recursive=False, filter=as_root)
        if (repo / ".git").is_dir():
            tar.add(repo / ".git", arcname=".git", filter=as_root)


def copy_out(box: Container, path: str, dest: Path) -> list[Path]:
    """Merge a directory of the container into `dest`, owned by the invoking user; a missing
    directory is fine (the session failed before writing it)."""
    try:
        stream, _ = box.get_archive(path)
    except NotFound:
        return []
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".copy-out-", dir=dest) as tmp:
        tar = Path(tmp) / "out.tar"
        with open(tar, "wb") as f:
            f.writelines(stream)
        archive.safe_extract(tar, Path(tmp) / "out")
        copied = _merge(next((Path(tmp) / "out").iterdir()), dest)
    if dest / SUMS in copied:  # it lists the container's archives only: list the host's again too
        write_sums(dest, sorted(p.name for p in dest.iterdir() if p.name.endswith(SUMMED_SUFFIXES)))
    _give_to_invoking_user([dest] * created + copied)
    return copied


def _merge(source: Path, dest: Path) -> list[Path]:
    """Move every file and directory of `source` into `dest`; the paths created or replaced."""
    moved = []
    for path in sorted(source.rglob("*")):
        target = dest / path.relative_to(source)
        if not path.is_dir():
            path.replace(target)
        elif target.is_dir():
            continue
        else:
            target.mkdir()
        moved.append(target)
    return moved


def _give_to_invoking_user(paths: list[Path]) -> None:
    owner = invoking_user()
    if owner:
        for path in paths:
            os.chown(path, *owner)


def invoking_user() -> tuple[int, int] | None:
    """The user who ran us, also through sudo; None on hosts without POSIX owners."""
    if not hasattr(os, "getuid"):
        return None
    return int(os.environ.get("SUDO_UID", os.getuid())), int(os.environ.get("SUDO_GID", os.getgid()))
