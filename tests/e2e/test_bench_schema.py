"""The benchmark's JSON schema accepts what the benchmark writes and refuses a row without its reference."""

from __future__ import annotations

import json

import jsonschema
import pytest

from benchmarks import bench
from benchmarks.__main__ import SCHEMA
from ci.checks import nativeaot
from tests.conftest import REPO


def _result(rows):
    return {"schema_version": 1, "repo": "/r", "cores": 2, "load_average": [1.0, 1.0, 1.0], "python": "3.11",
            "seconds": 1.0, "rows": rows}


def test_rows_as_the_benchmark_makes_them_are_valid():
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    measured = bench.row("x", bench.Run(2.0, 2048), "ref", bench.Run(1.0, 1024), "the compressor", bytes=10)
    assert measured["ratio"] == 2.0 and measured["rss_mib"] == 2.0
    jsonschema.validate(_result([measured, {"what": "r", "reference": "readelf", "bound": "not measured"}]), schema)


def test_a_measured_row_without_its_reference_time_is_refused():
    schema = json.loads(SCHEMA.read_text())
    row = bench.row("x", bench.Run(2.0, 2048), "ref", bench.Run(1.0, 1024), "b")
    del row["reference_seconds"]
    with pytest.raises(jsonschema.ValidationError, match="reference_seconds"):
        jsonschema.validate(_result([row]), schema)


def test_the_reader_row_is_measured_against_readelf_and_valid():
    schema = json.loads(SCHEMA.read_text())
    (measured,) = bench.reader_rows()
    assert measured["reference"].startswith("readelf") and measured["seconds"] > 0 and measured["ratio"] > 0
    jsonschema.validate(_result([measured]), schema)


def test_the_nativeaot_row_publishes_both_sides_and_is_valid(tmp_path):
    # Real dotnet publish on both sides (bench.run fails on a failed command); the typed-out side must
    # have published every sample, or the row compares less work than ours does.
    schema = json.loads(SCHEMA.read_text())
    (measured,) = bench.nativeaot_rows(REPO, tmp_path)
    assert measured["seconds"] > 0 and measured["reference_seconds"] > 0, measured
    published = {p.name for p in (tmp_path / "ref").iterdir() if p.is_dir()}
    assert published == {name for name, _ in nativeaot.samples()}
    jsonschema.validate(_result([measured]), schema)
