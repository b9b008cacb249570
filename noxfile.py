"""Nox sessions: each a few lines calling into the `ci` package."""

import nox

nox.options.sessions = ["package"]
nox.options.reuse_venv = "yes"  # a rerun with nothing changed reinstalls nothing


@nox.session
def package(session: nox.Session) -> None:
    """Build, package, link apps against, verify and share Runtime.Base (`-- --platform RID`)."""
    session.install("-e", ".")
    session.run("python", "-m", "ci", "pipeline", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and end-to-end tests with real compilers and processes."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def smoke(session: nox.Session) -> None:
    """Run every app on its target: native, qemu-user or wine (`-- --platform RID|all`)."""
    session.install("-e", ".")
    session.run("python", "-m", "ci", "pipeline", "--check", "smoke", *session.posargs)


@nox.session
def matrix(session: nox.Session) -> None:
    """Print the GitHub Actions matrix JSON computed from ci/platforms.py."""
    session.install("-e", ".")
    session.run("python", "-m", "ci", "matrix", silent=False)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: cold/warm pipeline, tool share, emulation cost, sizes (`-- --platform all`)."""
    session.install("-e", ".")
    session.run("python", "-m", "ci", "bench", *session.posargs)
