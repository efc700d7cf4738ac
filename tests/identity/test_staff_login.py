"""Staff login, `POST /v1/auth/login`: passwords, lockout, no user enumeration."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.identity.models import RefreshToken, StaffKind, StaffUser
from tests.builders import PASSWORD, make_staff
from tests.identity.conftest import assert_problem, reload

LOGIN = "/v1/auth/login"
MAX_FAILURES = 5  # tests.conftest's setting
LOCKOUT = timedelta(seconds=900)  # the default lockout


async def failures(session: AsyncSession, user: StaffUser) -> tuple[int, Any]:
    row = await reload(session, StaffUser, user.id)
    assert row is not None
    return row.failed_logins, row.locked_until


async def refresh_token_count(session: AsyncSession) -> int:
    count = await session.scalar(select(func.count()).select_from(RefreshToken))
    await session.commit()
    return int(count or 0)


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


async def test_wrong_password_is_refused_and_the_failure_is_counted(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    user = world.organizer_x

    response = await client.post(LOGIN, json={"username": user.username, "password": "wrong"})

    assert_problem(response, 401, "invalid_credentials")
    assert await failures(session, user) == (1, None)
    assert await refresh_token_count(session) == 0


async def test_unknown_user_and_wrong_password_look_the_same(
    client: httpx.AsyncClient, world: Any
) -> None:
    wrong = await client.post(
        LOGIN, json={"username": world.organizer_x.username, "password": "wrong"}
    )
    unknown = await client.post(LOGIN, json={"username": "nobody", "password": "wrong"})

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]


async def test_a_disabled_account_cannot_log_in(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    user = world.organizer_y
    user.is_active = False
    await session.commit()

    response = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})

    assert_problem(response, 401, "invalid_credentials")
    assert await refresh_token_count(session) == 0


async def test_repeated_failures_lock_the_account_until_the_lockout_ends(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    user = world.organizer_x
    start = clock.now()

    for _ in range(MAX_FAILURES - 1):
        wrong = await client.post(LOGIN, json={"username": user.username, "password": "wrong"})
        assert_problem(wrong, 401, "invalid_credentials")
    locking = await client.post(LOGIN, json={"username": user.username, "password": "wrong"})
    assert_problem(locking, 429, "account_locked")
    assert 890 <= int(locking.headers["retry-after"]) <= 900

    right_but_locked = await client.post(
        LOGIN, json={"username": user.username, "password": PASSWORD}
    )
    assert_problem(right_but_locked, 429, "account_locked")
    assert int(right_but_locked.headers["retry-after"]) > 0
    _, locked_until = await failures(session, user)
    assert locked_until is not None
    assert locked_until >= start + LOCKOUT
    assert await refresh_token_count(session) == 0

    with clock.travel(start + LOCKOUT + timedelta(seconds=5)):
        response = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})
        assert response.status_code == 200, response.text
    assert await failures(session, user) == (0, None)


async def test_after_a_lock_runs_out_failures_are_counted_afresh(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    user = world.organizer_x
    start = clock.now()
    for _ in range(MAX_FAILURES):
        await client.post(LOGIN, json={"username": user.username, "password": "wrong"})

    with clock.travel(start + LOCKOUT + timedelta(seconds=5)):
        response = await client.post(LOGIN, json={"username": user.username, "password": "x"})
        assert_problem(response, 401, "invalid_credentials")
        assert await failures(session, user) == (1, None)


async def test_a_success_clears_earlier_failures(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    user = world.organizer_x
    for _ in range(MAX_FAILURES - 1):
        await client.post(LOGIN, json={"username": user.username, "password": "wrong"})

    response = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})

    assert response.status_code == 200
    assert await failures(session, user) == (0, None)


async def test_concurrent_guesses_cannot_outrun_the_lockout(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    user = world.organizer_x

    responses = await asyncio.gather(
        *(
            client.post(LOGIN, json={"username": user.username, "password": f"guess-{i}"})
            for i in range(MAX_FAILURES + 3)
        )
    )

    codes = sorted(r.json()["code"] for r in responses)
    assert codes.count("invalid_credentials") == MAX_FAILURES - 1
    assert codes.count("account_locked") == 4
    _, locked_until = await failures(session, user)
    assert locked_until is not None
