"""Benchmarks, run from a checkout (`nox -s bench`): not part of the installed package."""
