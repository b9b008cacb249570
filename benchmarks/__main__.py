"""`python -m benchmarks`: the performance table (each row a ratio to its reference tool, measured
in the same run), printed and written as JSON (benchmarks/bench.schema.json)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks import bench

SCHEMA = Path(__file__).resolve().parent / "bench.schema.json"
REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    import jsonschema

    from ci.core.fs import atomic_write_text

    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--repo", type=Path, default=REPO, help="the checkout to measure (default: this one)")
    p.add_argument("--out", default="dist/bench.json", help="where the JSON results go (default: dist/bench.json)")
    p.add_argument("--no-nox", action="store_true", help="leave out the nox row (it needs the session venv)")
    args = p.parse_args(argv)
    result = bench.run_all(args.repo.resolve(), with_nox=not args.no_nox)
    jsonschema.validate(result, json.loads(SCHEMA.read_text()))
    bench.show(result)
    atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    print(f"benchmark results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
