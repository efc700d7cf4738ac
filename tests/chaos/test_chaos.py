"""The short crash-and-restart run, in CI's PostgreSQL pass.

It runs `python -m tests.chaos --short` against the PostgreSQL server of this test
run (a database of its own, dropped afterwards): two SIGKILLs of the API process, a
restart of PostgreSQL, a worker kill, and a stretch with two API processes, under a
retrying mixed workload. The run waits for other pytest runs on the machine before it
stops PostgreSQL, and PostgreSQL answers again before this test returns, so the tests
after it find it as they expect.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bench.harness import ROOT
from tests.chaos import processes

pytestmark = [pytest.mark.postgres_only, pytest.mark.chaos]

# The run itself takes about two minutes; it may first wait up to ten for other tests.
TIMEOUT_SECONDS = 20 * 60


def test_acknowledged_effects_survive_kills_and_restarts_exactly_once(tmp_path: Path) -> None:
    server = make_url(os.environ["LIANGPIAO_TEST_DATABASE_URL"]).set(drivername="postgresql")
    output = tmp_path / "chaos-short.json"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tests.chaos", "--short", "--output", str(output)],
            cwd=ROOT,
            env={
                **os.environ,
                "LIANGPIAO_BENCH_PG": server.render_as_string(hide_password=False),
            },
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    finally:
        processes.ensure_pg_running()

    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    figures = json.loads(output.read_text())
    assert figures["violations"] == 0
    assert figures["kills"] >= 2
    assert figures["pg_restarts"] >= 1
    assert figures["unavailable_503s"] > 0
    assert figures["two_process_seconds"] > 0
    assert figures["retries"] > 0
    effects = figures["effects"]
    assert effects["attendances"] > 0
    assert effects["hours_approved"] == effects["issuances"] > 0
    assert effects["redemptions_succeeded"] > 0
    assert effects["postings_sum"] == 0
    # Every committed event reached the partner's receiver (checked by the run), and
    # some only after the receiver's refusals.
    assert effects["webhook_events"] > 0
    assert effects["webhook_refused_500"] > 0
