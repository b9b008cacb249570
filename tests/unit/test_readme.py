"""The README's commands are the parser's: every `python -m ci` line names a real command and real
options, and every command is in the README."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

from ci.cli import parser

README = Path(__file__).resolve().parents[2] / "README.md"


def commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def readme_invocations() -> list[list[str]]:
    found = []
    for line in README.read_text().splitlines():
        match = re.search(r"python -m ci ([a-z][a-z-]*.*)", line)
        if match:
            words = shlex.split(match[1].split("#", 1)[0].split("`", 1)[0], posix=True)
            found.append(words)
    return found


def test_every_readme_command_and_option_exists():
    known = commands()
    invocations = readme_invocations()
    assert invocations
    for words in invocations:
        assert words[0] in known, f"README names `python -m ci {words[0]}`, which does not exist"
        options = {o for action in known[words[0]]._actions for o in action.option_strings}
        for word in words[1:]:
            flag = word.strip("[]").split("=", 1)[0]
            if flag == "--":  # what follows goes to the nox session
                break
            if flag.startswith("--"):
                assert flag in options, f"README: `python -m ci {words[0]}` has no option {flag}"


def test_every_command_is_in_the_readme():
    named = {words[0] for words in readme_invocations()}
    assert set(commands()) <= named, sorted(set(commands()) - named)


def test_every_option_has_help():
    for name, sub in commands().items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help text"


def test_every_command_is_in_the_lazy_group_table():
    """`GROUPS` loads only the running command's module: a command it misses still works, but slowly."""
    from ci.cli import GROUPS

    listed = [c for commands in GROUPS.values() for c in commands]
    assert sorted(listed) == sorted(commands())
