"""Schemathesis against the live app, as each principal: no 5xx, every response as the
spec documents it. `make test` runs the short seeded profile; `make fuzz` the full one
(LIANGPIAO_FUZZ_PROFILE=full), which prints the figures of every run."""

from __future__ import annotations

import pytest

from tests.fuzz import harness
from tests.fuzz.world import FuzzWorld


@pytest.mark.parametrize("principal", list(harness.PRINCIPALS))
def test_every_response_is_documented_and_none_is_a_server_error(
    fuzz_world: FuzzWorld, live_url: str, principal: str
) -> None:
    profile = harness.profile_from_env()
    outcome = harness.run(fuzz_world, live_url, harness.PRINCIPALS[principal], profile)

    print(f"\n[fuzz:{profile.name}] {outcome.summary()}")
    assert outcome.operations > 0, outcome.summary()
    assert not outcome.errors, "\n".join(outcome.errors)
    assert not outcome.failures, "\n".join(outcome.failures)
