"""The command line: one parser, one module per command group, one options builder (`options`).
Errors are printed once, here, as one line with their exit code."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

from ci.cli import abi, containers, fork, release, savings, stages, toolchains
from ci.core.errors import CiError
from ci.core.secrets import redact

PROG = "runtime-base-ci"


def _version() -> str:
    try:
        return version("runtime-base-ci")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG, description="CI matrix and reproducible packaging for Runtime.Base, the split NativeAOT runtime.")
    top.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (stages, fork, release, containers, savings, toolchains, abi):
        group.register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except CiError as exc:
        print(f"error: {redact(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
