"""An app set's requirement against a runtime package: .NET's rollForward=Minor within one major."""

from __future__ import annotations

import pytest

from ci.checks.apps import requirement, requirement_problem

BUILT_AGAINST = {"name": "Runtime.Base", "rid": "linux-x64", "version": "10.1.2-ref.1", "abi_hash": "a" * 64}


def _runtime(version: str, abi_hash: str = "a" * 64, rid: str = "linux-x64") -> dict:
    return {**BUILT_AGAINST, "version": version, "abi_hash": abi_hash, "rid": rid}


def test_the_requirement_names_the_major_and_minor_and_the_policy():
    assert requirement(BUILT_AGAINST) == {"name": "Runtime.Base", "rid": "linux-x64", "version": "10.1",
                                          "roll_forward": "Minor", "abi_hash": "a" * 64}


@pytest.mark.parametrize("version", ["10.1.0-ref.1", "10.1.9", "10.4.0"])
def test_a_later_patch_or_minor_satisfies_it(version):
    abi = "a" * 64 if version.startswith("10.1.") else "b" * 64  # a later minor adds exports: its ABI hash differs
    assert requirement_problem(requirement(BUILT_AGAINST), _runtime(version, abi)) is None


@pytest.mark.parametrize(("runtime", "problem"), [
    (_runtime("10.0.5"), "needs Runtime.Base 10.1 or a later 10.x, the runtime is 10.0.5"),
    (_runtime("11.1.0"), "needs Runtime.Base 10.1 or a later 10.x, the runtime is 11.1.0"),
    (_runtime("10.1.3", abi_hash="c" * 64), "was built against ABI aaaaaaaaaaaa, the runtime 10.1.3 has cccccccccccc"),
    (_runtime("10.1.2", rid="linux-arm64"), "needs Runtime.Base for linux-x64, the runtime is Runtime.Base for linux-arm64"),
])
def test_an_older_minor_another_major_abi_or_rid_is_named(runtime, problem):
    assert requirement_problem(requirement(BUILT_AGAINST), runtime) == problem
