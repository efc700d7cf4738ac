"""Ending logins at once: a logout denies its access tokens on every replica, a disabled
or reset staff account keeps no login alive, and no login outlives its absolute lifetime."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.config import Settings
from app.identity.jobs import purge_expired
from app.identity.models import RevokedAccessToken
from tests.builders import staff_auth
from tests.identity.conftest import assert_problem, running_app
from tests.identity.test_tokens import LOGOUT, REFRESH, WHOAMI, bearer, login, stored

FAMILY_LIFETIME = timedelta(days=90)  # the default refresh_family_lifetime_seconds


async def denied_count(session: AsyncSession) -> int:
    count = await session.scalar(select(func.count()).select_from(RevokedAccessToken))
    await session.commit()
    return int(count or 0)


async def test_logout_refuses_the_logins_access_tokens_on_every_replica(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, world: Any
) -> None:
    first = await login(client, world.organizer_x)
    rotated = (await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})).json()
    async with running_app(settings) as (_, replica):
        for tokens in (first, rotated):
            assert (await replica.get(WHOAMI, headers=bearer(tokens["access_token"]))).is_success

        response = await client.post(LOGOUT, json={"refresh_token": rotated["refresh_token"]})
        assert response.status_code == 204

        for http in (client, replica):
            for tokens in (first, rotated):
                refused = await http.get(WHOAMI, headers=bearer(tokens["access_token"]))
                assert_problem(refused, 401, "token_invalid")
    assert await denied_count(session) == 2


async def test_another_login_of_the_same_account_outlives_a_logout(
    client: httpx.AsyncClient, world: Any
) -> None:
    phone = await login(client, world.organizer_x)
    laptop = await login(client, world.organizer_x)

    await client.post(LOGOUT, json={"refresh_token": phone["refresh_token"]})

    assert (await client.get(WHOAMI, headers=bearer(laptop["access_token"]))).is_success
    refused = await client.get(WHOAMI, headers=bearer(phone["access_token"]))
    assert_problem(refused, 401, "token_invalid")


async def test_denied_tokens_are_swept_once_they_would_have_expired(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    tokens = await login(client, world.organizer_x)
    await client.post(LOGOUT, json={"refresh_token": tokens["refresh_token"]})

    assert await purge_expired(app.state.db.sessions) == 0
    assert await denied_count(session) == 1
    with clock.travel(clock.now() + timedelta(seconds=tokens["expires_in"] + 60)):
        assert await purge_expired(app.state.db.sessions) == 1
    assert await denied_count(session) == 0


async def test_a_login_refreshed_every_day_still_ends_after_its_lifetime(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    tokens = await login(client, world.organizer_x)
    began = clock.now()
    for day in range(20, 90, 20):
        with clock.travel(began + timedelta(days=day)):
            response = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
        assert response.status_code == 200, response.text
        tokens = response.json()

    # Rotated at day 80, the token would live 30 days more: the login ends at day 90.
    row = await stored(session, tokens["refresh_token"])
    assert abs(row.expires_at - (began + FAMILY_LIFETIME)) < timedelta(seconds=5)
    with clock.travel(began + FAMILY_LIFETIME + timedelta(minutes=1)):
        late = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert_problem(late, 401, "refresh_family_expired")
    assert (await stored(session, tokens["refresh_token"])).used_at is None


async def test_disabling_a_staff_account_ends_its_logins_at_once(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    tokens = await login(client, world.organizer_x)
    response = await client.patch(
        f"/v1/staff/{world.organizer_x.id}",
        json={"is_active": False},
        headers=staff_auth(app, world.center_admin),
    )
    assert response.status_code == 200, response.text

    assert (await stored(session, tokens["refresh_token"])).revoked_at is not None
    refresh = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert_problem(refresh, 401, "refresh_token_revoked")
    assert await denied_count(session) == 1


async def test_a_new_password_ends_the_accounts_logins(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    tokens = await login(client, world.organizer_x)
    response = await client.patch(
        f"/v1/staff/{world.organizer_x.id}",
        json={"password": "a brand new password"},
        headers=staff_auth(app, world.center_admin),
    )
    assert response.status_code == 200, response.text

    refused = await client.get(WHOAMI, headers=bearer(tokens["access_token"]))
    assert_problem(refused, 401, "token_invalid")
    refresh = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert_problem(refresh, 401, "refresh_token_revoked")
