"""Staff login, `POST /v1/auth/login`: passwords, throttling per address, no user enumeration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from argon2 import extract_parameters
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.security import verify_password
from app.identity import service
from app.identity.models import LoginThrottle, RefreshToken, StaffKind
from app.identity.throttle import ThrottleKey, network_of
from tests.builders import PASSWORD, make_staff
from tests.identity.conftest import assert_problem

LOGIN = "/v1/auth/login"
MAX_FAILURES = 5  # tests.conftest's setting
FIRST_WAIT = 30  # the default login_delay_seconds
LONGEST_WAIT = 900  # the default login_lockout_seconds
HOME = "127.0.0.1"  # httpx's ASGI transport's client address
ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"


@asynccontextmanager
async def client_at(app: Any, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from `address`."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def throttle_of(
    session: AsyncSession, username: str, address: str = HOME
) -> LoginThrottle | None:
    key = ThrottleKey.of(username=username, address=address)
    row = await session.get(
        LoginThrottle, (key.username_key, key.address_key), populate_existing=True
    )
    await session.commit()
    return row


async def refresh_token_count(session: AsyncSession) -> int:
    count = await session.scalar(select(func.count()).select_from(RefreshToken))
    await session.commit()
    return int(count or 0)


def wrong(username: str, n: int = 0) -> dict[str, str]:
    return {"username": username, "password": f"wrong-{n}"}


def retry_after(response: httpx.Response) -> int:
    return int(response.headers["retry-after"])


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The password hashes the login checks against, in order."""
    hashes: list[str] = []

    async def recording(password_hash: str, password: str) -> bool:
        hashes.append(password_hash)
        return await verify_password(password_hash, password)

    monkeypatch.setattr(service, "verify_password", recording)
    return hashes


async def test_staff_logs_in_with_their_roles_in_the_token(
    client: httpx.AsyncClient, world: Any
) -> None:
    user = world.station_admin_x
    response = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["staff_id"] == str(user.id)
    assert body["kind"] == "staff"
    assert body["token_type"] == "Bearer"
    me = await client.get(
        "/v1/auth/whoami", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json() == {
        "kind": "staff",
        "id": str(user.id),
        "region_id": str(world.region.id),
        "scopes": ["station_admin"],
    }


async def test_merchant_staff_get_a_merchant_staff_token(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    cashier = await make_staff(session, world.region, kind=StaffKind.merchant)

    response = await client.post(LOGIN, json={"username": cashier.username, "password": PASSWORD})

    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "merchant_staff"
    me = await client.get(
        "/v1/auth/whoami",
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
    )
    assert me.json()["kind"] == "merchant_staff"


async def test_wrong_password_is_refused_and_counted_for_this_address(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    user = world.organizer_x

    response = await client.post(LOGIN, json=wrong(user.username))

    assert_problem(response, 401, "invalid_credentials")
    row = await throttle_of(session, user.username)
    assert row is not None
    assert (row.failures, row.blocked_until) == (1, None)
    assert await throttle_of(session, user.username, OWNER) is None
    assert await refresh_token_count(session) == 0


async def test_unknown_and_known_usernames_answer_alike_and_both_run_argon2(
    client: httpx.AsyncClient, world: Any, verified: list[str]
) -> None:
    known = await client.post(LOGIN, json=wrong(world.organizer_x.username))
    unknown = await client.post(LOGIN, json=wrong("nobody"))

    assert known.status_code == unknown.status_code == 401
    assert known.json() == unknown.json()

    def headers(response: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k != "x-request-id"}

    assert headers(known) == headers(unknown)
    # One verification each, of a hash as costly as a real one: the same timing.
    assert len(verified) == 2
    assert extract_parameters(verified[0]) == extract_parameters(verified[1])


async def test_a_disabled_account_cannot_log_in(
    client: httpx.AsyncClient, session: AsyncSession, world: Any, verified: list[str]
) -> None:
    user = world.organizer_y
    user.is_active = False
    await session.commit()

    response = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})

    assert_problem(response, 401, "invalid_credentials")
    assert verified == [user.password_hash]
    assert await refresh_token_count(session) == 0


async def test_each_failure_past_the_limit_doubles_the_wait(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    user = world.organizer_x
    for n in range(MAX_FAILURES - 1):
        assert_problem(
            await client.post(LOGIN, json=wrong(user.username, n)), 401, "invalid_credentials"
        )

    waits = []
    at = clock.now()
    for n in range(6):
        with clock.travel(at):
            response = await client.post(LOGIN, json=wrong(user.username, n))
        assert_problem(response, 429, "account_locked")
        waits.append(retry_after(response))
        at += timedelta(seconds=waits[-1] + 1)

    assert [abs(w - FIRST_WAIT * 2**i) <= 1 for i, w in enumerate(waits[:5])] == [True] * 5
    assert waits[5] == LONGEST_WAIT  # 30 · 2^5 = 960, capped
    row = await throttle_of(session, user.username)
    assert row is not None
    assert row.failures == MAX_FAILURES + 5


async def test_while_waiting_even_the_right_password_is_refused_unchecked(
    client: httpx.AsyncClient, session: AsyncSession, world: Any, verified: list[str]
) -> None:
    user = world.organizer_x
    for n in range(MAX_FAILURES):
        await client.post(LOGIN, json=wrong(user.username, n))

    early = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})

    assert_problem(early, 429, "account_locked")
    assert 0 < retry_after(early) <= FIRST_WAIT
    assert len(verified) == MAX_FAILURES  # the waiting attempt checked no password
    assert await refresh_token_count(session) == 0


async def test_the_right_password_after_the_wait_logs_in_and_clears_the_count(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    user = world.organizer_x
    start = clock.now()
    for n in range(MAX_FAILURES + 1):
        with clock.travel(start + timedelta(seconds=(FIRST_WAIT + 1) * n)):
            await client.post(LOGIN, json=wrong(user.username, n))

    with clock.travel(start + timedelta(seconds=(FIRST_WAIT + 1) * MAX_FAILURES + 61)):
        response = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})

    assert response.status_code == 200, response.text
    assert await throttle_of(session, user.username) is None


async def test_an_attacker_failing_from_one_address_does_not_keep_the_owner_out(
    app: Any, session: AsyncSession, world: Any
) -> None:
    admin = world.center_admin
    async with client_at(app, ATTACKER) as attacker, client_at(app, OWNER) as owner:
        answers = [
            (await attacker.post(LOGIN, json=wrong(admin.username, n))).status_code
            for n in range(50)
        ]
        assert answers == [401] * (MAX_FAILURES - 1) + [429] * (50 - MAX_FAILURES + 1)

        response = await owner.post(LOGIN, json={"username": admin.username, "password": PASSWORD})
        assert response.status_code == 200, response.text

        # The owner's success does not lift the attacker's wait either.
        still = await attacker.post(LOGIN, json={"username": admin.username, "password": PASSWORD})
        assert_problem(still, 429, "account_locked")
    assert await throttle_of(session, admin.username, OWNER) is None


async def test_unknown_usernames_are_made_to_wait_like_known_ones(
    client: httpx.AsyncClient, world: Any
) -> None:
    known = [await client.post(LOGIN, json=wrong(world.organizer_x.username, n)) for n in range(6)]
    unknown = [await client.post(LOGIN, json=wrong("nobody", n)) for n in range(6)]

    for k, u in zip(known, unknown, strict=True):
        assert k.status_code == u.status_code
        assert k.json() == u.json()
        assert k.headers.get("retry-after") == u.headers.get("retry-after")
    assert [r.status_code for r in unknown] == [401] * (MAX_FAILURES - 1) + [429, 429]


async def test_a_success_clears_earlier_failures(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    user = world.organizer_x
    for n in range(MAX_FAILURES - 1):
        await client.post(LOGIN, json=wrong(user.username, n))

    response = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})

    assert response.status_code == 200
    assert await throttle_of(session, user.username) is None


async def test_after_a_quiet_day_failures_are_counted_afresh(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    user = world.organizer_x
    for n in range(MAX_FAILURES - 1):
        await client.post(LOGIN, json=wrong(user.username, n))

    with clock.travel(clock.now() + timedelta(days=1, minutes=1)):
        response = await client.post(LOGIN, json=wrong(user.username))
        assert_problem(response, 401, "invalid_credentials")
    row = await throttle_of(session, user.username)
    assert row is not None
    assert row.failures == 1


async def test_concurrent_guesses_cannot_outrun_the_count(
    client: httpx.AsyncClient, session: AsyncSession, world: Any, verified: list[str]
) -> None:
    user = world.organizer_x

    responses = await asyncio.gather(
        *(client.post(LOGIN, json=wrong(user.username, n)) for n in range(MAX_FAILURES + 3))
    )

    codes = sorted(r.json()["code"] for r in responses)
    assert codes.count("invalid_credentials") == MAX_FAILURES - 1
    assert codes.count("account_locked") == 4
    assert len(verified) == MAX_FAILURES  # those past the count checked nothing
    row = await throttle_of(session, user.username)
    assert row is not None
    assert row.blocked_until is not None


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.66", "203.0.113.66"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.66", "203.0.113.66"),
        ("unknown", "unknown"),
    ],
)
def test_one_ipv6_customer_network_counts_as_one_address(address: str, network: str) -> None:
    assert network_of(address) == network
