"""A login's slow parts (argon2, WeChat) run outside any write transaction.

On SQLite every transaction is `BEGIN IMMEDIATE`, one writer at a time: a login
that checked its password inside one would hold every other write of the service
for the length of an argon2 verification, and a burst of bad logins would stall
check-ins and profile edits for seconds.

The slow step is simulated by an await of `SLOW` seconds that costs no CPU: real
argon2 runs would load the machine's cores, and the edit's latency would measure
that load (and whatever else runs on the machine) instead of the lock.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from app.identity import service
from tests.builders import volunteer_auth
from tests.identity.conftest import wechat_answering

LOGINS = 8
SLOW = 0.25  # seconds: one argon2 verification in production, or a slow WeChat answer
# Generous: an edit may meet SQLite's busy-wait back-off behind the logins' short writes
# (measured at up to ~220 ms), but half of the 8 x SLOW it waited when the checks ran
# inside the write lock (measured at ~2.8 s before the fix).
BOUND = LOGINS * SLOW / 2


async def _profile_edit(client: httpx.AsyncClient, auth: dict[str, str], n: int) -> float:
    started = time.perf_counter()
    response = await client.patch("/v1/me", json={"name": f"新名{n}"}, headers=auth)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


async def _edits_during(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    slow_started: asyncio.Event,
    logins: Callable[[int], Awaitable[httpx.Response]],
) -> tuple[list[float], list[httpx.Response]]:
    """The latencies of profile edits sent while `LOGINS` logins are in their slow step."""
    tasks = [asyncio.create_task(logins(i)) for i in range(LOGINS)]
    await asyncio.wait_for(slow_started.wait(), timeout=10)
    edits = []
    while not all(task.done() for task in tasks) and len(edits) < 3:
        edits.append(await _profile_edit(client, auth, len(edits)))
    return edits, list(await asyncio.gather(*tasks))


def _report(kind: str, quiet: float, edits: list[float]) -> None:
    print(
        f"\n{kind}: quiet edit {quiet * 1000:.0f} ms; edits during {LOGINS} failed logins "
        f"of {SLOW * 1000:.0f} ms each: {[round(e * 1000) for e in edits]} ms"
    )


async def test_a_volunteer_write_does_not_wait_for_failed_password_checks(
    app: Any, client: httpx.AsyncClient, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = volunteer_auth(app, world.volunteer_a)
    quiet = statistics.median([await _profile_edit(client, auth, n) for n in range(3)])
    checking = asyncio.Event()
    checked = 0

    async def slow_verify(password_hash: str, password: str) -> bool:
        nonlocal checked
        checked += 1
        checking.set()
        await asyncio.sleep(SLOW)
        return False

    monkeypatch.setattr(service, "verify_password", slow_verify)
    usernames = [world.organizer_x.username, "nobody-at-all"]

    async def login(i: int) -> httpx.Response:
        body = {"username": usernames[i % 2], "password": f"wrong-{i}"}
        return await client.post("/v1/auth/login", json=body)

    edits, responses = await _edits_during(client, auth, checking, login)

    assert {r.status_code for r in responses} <= {401, 429}
    assert checked == LOGINS
    _report("password", quiet, edits)
    assert max(edits) < BOUND


async def test_a_volunteer_write_does_not_wait_for_slow_wechat_logins(
    app: Any, client: httpx.AsyncClient, world: Any
) -> None:
    auth = volunteer_auth(app, world.volunteer_a)
    quiet = statistics.median([await _profile_edit(client, auth, n) for n in range(3)])
    asking = asyncio.Event()

    async def slow_refusal(request: httpx.Request) -> httpx.Response:
        asking.set()
        await asyncio.sleep(SLOW)
        return httpx.Response(200, json={"errcode": 40029, "errmsg": "invalid code"})

    async def login(i: int) -> httpx.Response:
        body = {"code": f"stale-{i}", "region_code": world.region.code}
        return await client.post("/v1/auth/wechat", json=body)

    async with wechat_answering(app, slow_refusal):
        edits, responses = await _edits_during(client, auth, asking, login)

    assert {r.status_code for r in responses} == {401}
    _report("wechat", quiet, edits)
    assert max(edits) < BOUND
