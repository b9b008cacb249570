"""Nox sessions: each a few lines calling into the `ci` package."""

import hashlib
from pathlib import Path

import nox

nox.options.sessions = ["package"]
nox.options.reuse_venv = "yes"  # a rerun with nothing changed reinstalls nothing
nox.options.default_venv_backend = "uv|virtualenv"  # uv where installed (nox[uv]), else virtualenv


def _install(session: nox.Session, spec: str) -> None:
    """`pip install -e SPEC`, skipped when pyproject.toml is unchanged since the last one into this venv
    (an editable install picks up source changes by itself)."""
    stamp = Path(session.virtualenv.location) / ".runtime-base-ci-installed"
    key = hashlib.sha256(Path("pyproject.toml").read_bytes() + spec.encode()).hexdigest()
    if stamp.is_file() and stamp.read_text() == key:
        return
    session.install("-e", spec, env={"UV_COMPILE_BYTECODE": "1"})  # as pip does: no compiling at every start
    stamp.write_text(key)


def _ci(session: nox.Session, *args: str) -> None:
    """Install the project into the session and run `python -m ci ARGS`."""
    _install(session, ".")
    session.run("python", "-m", "ci", *args)


@nox.session
def package(session: nox.Session) -> None:
    """Build, package, link apps against, verify and share Runtime.Base (`-- --platform RID`)."""
    _ci(session, "pipeline", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and end-to-end tests with real compilers and processes."""
    _install(session, ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def smoke(session: nox.Session) -> None:
    """Run every app on its target: native, qemu-user or wine (`-- --platform RID|all`)."""
    _ci(session, "pipeline", "--check", "smoke", *session.posargs)


@nox.session
def matrix(session: nox.Session) -> None:
    """Print the GitHub Actions matrix JSON computed from the platform records."""
    _ci(session, "matrix")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (benchmarks/bench.py): each row a ratio to its reference tool measured in the same run."""
    _install(session, ".")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Fuzz the ELF and PE readers: >= 10,000 mutants, crashes, hangs, peak memory (`-- --mutants N`)."""
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks.fuzz", *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    """Build Runtime.Base: the reference runtime, or the fork (`-- --runtime-repo PATH [--platform RID]`; cached, needs the internet)."""
    _ci(session, "build", *session.posargs)


@nox.session
def plan(session: nox.Session) -> None:
    """Dry run: the fork's ILC/linker response files and every command (`-- --runtime-repo PATH --platform RID`)."""
    _ci(session, "plan", *session.posargs)


@nox.session
def publish(session: nox.Session) -> None:
    """Provenance for dist/, then publish it as a GitHub release (`-- --repo OWNER/NAME --tag vX [--dry-run]`)."""
    _ci(session, "provenance", "--dist", "dist")
    session.run("python", "-m", "ci", "publish", "--dist", "dist", *session.posargs)


@nox.session(name="push-nuget")
def push_nuget(session: nox.Session) -> None:
    """Push dist/'s .nupkg files with `dotnet nuget push --skip-duplicate` (`-- --source FEED`; key in $NUGET_API_KEY)."""
    _ci(session, "push-nuget", "--dist", "dist", *session.posargs)


@nox.session
def images(session: nox.Session) -> None:
    """Linux build images without a registry: debootstrap base, wheelhouse, image (`-- --platform RID|all`)."""
    _ci(session, "images", *session.posargs)


@nox.session
def container(session: nox.Session) -> None:
    """Run a session in the platform's container (`-- --platform linux-arm64 package -- --check smoke`)."""
    _ci(session, "container-run", *session.posargs)


@nox.session
def crosscheck(session: nox.Session) -> None:
    """Package here and in the container and compare the bytes (`-- --platform linux-x64|linux-arm64|all`)."""
    _ci(session, "crosscheck", *session.posargs)


@nox.session
def savings(session: nox.Session) -> None:
    """What the split saves against self-contained twins: disk, memory, runtimes per process (`-- --platform all`)."""
    _ci(session, "savings", *session.posargs)


@nox.session
def toolchains(session: nox.Session) -> None:
    """Which compiler, binutils and headers each platform finds on this host, and how (`-- --platform RID|all`)."""
    _ci(session, "toolchains", *session.posargs)


@nox.session(name="build-host")
def build_host(session: nox.Session) -> None:
    """A Windows build host's Visual Studio (vswhere), MSVC, Windows SDK, CMake and Python: log and job summary."""
    _ci(session, "build-host", *session.posargs)
