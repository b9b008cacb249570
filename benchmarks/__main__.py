"""`python -m benchmarks`: the pipeline benchmarks, as a table and as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks import bench
from ci import platforms
from ci.core.console import console
from ci.core.errors import CiError
from ci.core.fs import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--platform", action="append", metavar="RID", help="rid (repeatable) or 'all'; default: this machine's")
    p.add_argument("--out", default="dist/bench.json", help="where the JSON results go (default: dist/bench.json)")
    args = p.parse_args(argv)
    try:
        result = bench.run([pl.rid for pl in platforms.select(args.platform)])
    except CiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    bench.show(result)
    atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    console.print(f"benchmark results: {args.out}", markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
