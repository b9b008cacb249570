"""One default configuration everywhere: it is in the fork build's cache key, so a second default
would start a second hour-long build."""

from __future__ import annotations

import ast

import pytest

from ci.cli import parser
from ci.runtime.fork.driver import BuildRequest
from ci.runtime.fork.link import ForkOptions
from ci.runtime.output import DEFAULT_CONFIGURATION, DEFAULT_LIBRARIES_CONFIGURATION
from tests.conftest import REPO


@pytest.mark.parametrize("argv", [["plan"], ["build"], ["pipeline"]], ids=lambda a: a[0])
def test_plan_build_and_pipeline_default_to_the_same_configurations(argv):
    args = parser().parse_args(argv)
    assert (args.configuration, args.libraries_configuration) == (DEFAULT_CONFIGURATION, DEFAULT_LIBRARIES_CONFIGURATION)


def test_the_fork_build_defaults_agree_with_the_cli():
    assert DEFAULT_CONFIGURATION == "Release" and DEFAULT_LIBRARIES_CONFIGURATION == "Release"
    assert BuildRequest.configuration == DEFAULT_CONFIGURATION
    assert BuildRequest.libraries_configuration == ForkOptions().libraries_configuration == DEFAULT_LIBRARIES_CONFIGURATION


def test_nox_sessions_pass_the_cli_defaults_through():
    """build, plan and package run the CLI commands and add no configuration of their own."""
    tree = ast.parse((REPO / "noxfile.py").read_text())
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not {"--configuration", "--libraries-configuration", "Debug", "Release", "Checked"} & strings
    sessions = {f.name: {n.value for n in ast.walk(f) if isinstance(n, ast.Constant)}
                for f in tree.body if isinstance(f, ast.FunctionDef)}
    assert "build" in sessions["build"] and "plan" in sessions["plan"] and "pipeline" in sessions["package"]
