"""`python -m tests.chaos [--short] [--duration S] [--clients N] [--kills K] [--pg-restarts R]`."""

from __future__ import annotations

import sys

from tests.chaos.driver import main

raise SystemExit(main(sys.argv[1:]))
