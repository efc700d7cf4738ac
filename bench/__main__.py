"""`python -m bench [name ...]`: run the benchmarks (all by default) and record results."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ["checkin", "ledger", "redemption", "emergency"]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", flush=True)
        module.main()
    return 0


raise SystemExit(main(sys.argv[1:]))
