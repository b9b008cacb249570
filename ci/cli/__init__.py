"""The command line: one parser, one module per command group, one options builder (`options`).
Errors are printed once, here, as one line with their exit code (the table in ci.core.errors).

Start-up time matters (CI calls the CLI many times): only the group module of the command being
run is imported, and the groups import their heavy libraries inside the commands."""

from __future__ import annotations

import argparse
import importlib
import sys

from ci.core.errors import INTERRUPTED, CiError
from ci.core.secrets import redact

PROG = "runtime-base-ci"
#: Command group module -> its commands. A command missing here still works: then every group is
#: loaded, as for `--help`.
GROUPS = {
    "stages": ("pipeline", "build", "package", "apps", "verify", "share", "smoke", "matrix"),
    "fork": ("plan", "fork-check", "fork-cache"),
    "release": ("publish", "fetch", "push-nuget", "provenance"),
    "containers": ("images", "container-run", "wine-root", "crosscheck"),
    "savings": ("savings",),
    "toolchains": ("toolchains", "build-host"),
    "abi": ("abi",),
    "install": ("install", "uninstall", "doctor"),
}


class _Version(argparse.Action):
    """--version, reading the installed metadata only when asked (importlib.metadata is slow to import)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("runtime-base-ci")
        except PackageNotFoundError:  # run from a checkout that was never installed
            found = "unknown (not installed)"
        print(f"{PROG} {found}")  # on stdout, as argparse's own version action prints it
        parser.exit()


def _groups_for(argv: list[str]) -> list[str]:
    command = next((a for a in argv if not a.startswith("-")), None)
    owner = [group for group, commands in GROUPS.items() if command in commands]
    return owner or list(GROUPS)


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given `argv`, with only the subcommands of the group that runs it."""
    top = argparse.ArgumentParser(
        prog=PROG, description="CI matrix and reproducible packaging for Runtime.Base, the split NativeAOT runtime.")
    top.add_argument("--version", action=_Version)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _groups_for(argv) if argv is not None else GROUPS:
        importlib.import_module(f"ci.cli.{group}").register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser(argv).parse_args(argv)
    try:
        return args.func(args)
    except CiError as exc:
        print(f"error: {redact(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a last line of defence: the stages turn the ones they expect into CiError
        from ci.core.fs import os_error

        error = os_error(exc.filename or "?", exc, "failed")
        print(f"error: {redact(error.message)}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
