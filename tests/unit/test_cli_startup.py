"""The CLI starts fast: only the running command's group is imported, heavy libraries on first use."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys

from ci.cli import GROUPS
from tests.conftest import REPO

PROBE = """
import contextlib, io, json, sys
from ci.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_every_command_is_listed_under_its_group():
    for group, commands in GROUPS.items():
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"ci.cli.{group}").register(sub)
        assert tuple(sub.choices) == commands, group


def test_a_quick_command_imports_no_heavy_library():
    done = subprocess.run([sys.executable, "-c", PROBE, "matrix"], cwd=REPO, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0
    loaded = {m.split(".")[0] for m in result["modules"]}
    assert not loaded & {"rich", "jsonschema", "elftools", "pefile", "docker", "requests", "importlib_metadata"}
    assert not {m for m in result["modules"] if m.startswith("ci.cli.") and m != "ci.cli.stages"} - {"ci.cli.options"}
