"""The token lifecycle: refresh rotation, reuse detection, logout, and refused access tokens."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.security import generate_private_key_pem, hash_secret
from app.identity.models import RefreshToken, StaffUser
from tests.builders import PASSWORD
from tests.conftest import SIGNING_KEY
from tests.identity.conftest import assert_problem, reload

REFRESH = "/v1/auth/refresh"
LOGOUT = "/v1/auth/logout"
WHOAMI = "/v1/auth/whoami"


async def login(client: httpx.AsyncClient, user: StaffUser) -> dict[str, Any]:
    response = await client.post(
        "/v1/auth/login", json={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored(session: AsyncSession, refresh_token: str) -> RefreshToken:
    row = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == hash_secret(refresh_token))
        .execution_options(populate_existing=True)
    )
    await session.commit()
    assert row is not None
    return row


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_refresh_rotates_within_the_family(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    first = await login(client, world.organizer_x)

    response = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})

    assert response.status_code == 200, response.text
    second = response.json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert second["refresh_token"] != first["refresh_token"]
    old, new = (
        await stored(session, first["refresh_token"]),
        await stored(session, second["refresh_token"]),
    )
    assert old.used_at is not None
    assert new.used_at is None
    assert new.family_id == old.family_id
    me = await client.get(WHOAMI, headers=bearer(second["access_token"]))
    assert me.json()["id"] == str(world.organizer_x.id)
    assert me.json()["scopes"] == ["organizer"]


async def test_a_volunteer_refresh_gives_a_volunteer_token(
    client: httpx.AsyncClient, world: Any
) -> None:
    logged_in = await client.post(
        "/v1/auth/wechat", json={"code": "refresher", "region_code": world.region.code}
    )
    response = await client.post(REFRESH, json={"refresh_token": logged_in.json()["refresh_token"]})

    me = await client.get(WHOAMI, headers=bearer(response.json()["access_token"]))
    assert me.json()["kind"] == "volunteer"
    assert me.json()["id"] == logged_in.json()["volunteer_id"]


async def test_reusing_a_spent_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    first = await login(client, world.organizer_x)
    rotated = (await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})).json()
    other_login = await login(client, world.organizer_x)

    reuse = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})

    assert_problem(reuse, 401, "refresh_token_reused")
    assert (await stored(session, rotated["refresh_token"])).revoked_at is not None
    assert (await stored(session, first["refresh_token"])).revoked_at is not None
    after = await client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]})
    assert_problem(after, 401, "refresh_token_revoked")
    # Another login of the same person is another family, untouched.
    assert (await stored(session, other_login["refresh_token"])).revoked_at is None
    ok = await client.post(REFRESH, json={"refresh_token": other_login["refresh_token"]})
    assert ok.status_code == 200


async def test_concurrent_uses_of_one_refresh_token_count_as_reuse(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    first = await login(client, world.organizer_x)

    responses = await asyncio.gather(
        *(client.post(REFRESH, json={"refresh_token": first["refresh_token"]}) for _ in range(2))
    )

    assert sorted(r.status_code for r in responses) == [200, 401]
    winner = next(r for r in responses if r.status_code == 200).json()
    loser = next(r for r in responses if r.status_code == 401).json()
    assert loser["code"] == "refresh_token_reused"
    assert (await stored(session, winner["refresh_token"])).revoked_at is not None


async def test_an_expired_refresh_token_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    first = await login(client, world.organizer_x)

    with clock.travel(clock.now() + timedelta(days=30, minutes=1)):
        response = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})

    assert_problem(response, 401, "refresh_token_expired")
    assert (await stored(session, first["refresh_token"])).used_at is None


async def test_an_unknown_refresh_token_is_refused(client: httpx.AsyncClient, world: Any) -> None:
    response = await client.post(REFRESH, json={"refresh_token": "x" * 43})

    assert_problem(response, 401, "refresh_token_invalid")


async def test_a_disabled_account_cannot_refresh(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    first = await login(client, world.organizer_x)
    user = await reload(session, StaffUser, world.organizer_x.id)
    assert user is not None
    user.is_active = False
    await session.commit()

    response = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})

    assert_problem(response, 401, "refresh_token_invalid")
    assert (await stored(session, first["refresh_token"])).used_at is None


async def test_logout_revokes_the_family(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    first = await login(client, world.organizer_x)
    rotated = (await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})).json()

    response = await client.post(LOGOUT, json={"refresh_token": rotated["refresh_token"]})

    assert response.status_code == 204
    assert response.content == b""
    assert (await stored(session, rotated["refresh_token"])).revoked_at is not None
    assert (await stored(session, first["refresh_token"])).revoked_at is not None
    again = await client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]})
    assert_problem(again, 401, "refresh_token_revoked")


async def test_logout_with_an_unknown_token_reveals_nothing(
    client: httpx.AsyncClient, world: Any
) -> None:
    response = await client.post(LOGOUT, json={"refresh_token": "y" * 43})

    assert response.status_code == 204


# --- access tokens ----------------------------------------------------------------------


def claims(world: Any, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": "liangpiao",
        "aud": "liangpiao-api",
        "sub": str(world.organizer_x.id),
        "typ": "staff",
        "rid": str(world.region.id),
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    values.update(overrides)
    return values


def signed(payload: dict[str, Any], *, key: str = SIGNING_KEY, kid: str = "test-key") -> str:
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid})


async def test_a_well_formed_token_is_accepted(client: httpx.AsyncClient, world: Any) -> None:
    response = await client.get(WHOAMI, headers=bearer(signed(claims(world))))

    assert response.status_code == 200
    assert response.json()["kind"] == "staff"


async def test_an_expired_access_token_is_refused(client: httpx.AsyncClient, world: Any) -> None:
    token = (await login(client, world.organizer_x))["access_token"]

    with clock.travel(clock.now() + timedelta(minutes=16)):
        response = await client.get(WHOAMI, headers=bearer(token))

    assert_problem(response, 401, "token_expired")
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="The access token expired"'
    )


def _none_alg(world: Any) -> str:
    return jwt.encode(claims(world), None, algorithm="none", headers={"kid": "test-key"})


def _hs256(world: Any) -> str:
    # The algorithm-confusion attack: an HMAC token offered where ES256 is expected.
    return jwt.encode(claims(world), "test-key" * 4, algorithm="HS256", headers={"kid": "test-key"})


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda w: signed(claims(w), key=generate_private_key_pem()), "token_invalid"),
        (lambda w: signed(claims(w), kid="another-key"), "token_invalid"),
        (_none_alg, "token_invalid"),
        (_hs256, "token_invalid"),
        (lambda w: signed(claims(w, aud="another-api")), "token_invalid"),
        (lambda w: signed(claims(w, iss="someone-else")), "token_invalid"),
        (lambda w: signed(claims(w, exp=int(time.time()) - 60)), "token_expired"),
        (lambda w: signed(claims(w, typ="refresh")), "token_invalid"),
        (lambda w: signed(claims(w, sub="not-a-uuid")), "token_invalid"),
        (lambda w: "garbage", "token_invalid"),
        (lambda w: "a.b.c", "token_invalid"),
    ],
    ids=[
        "other-key",
        "unknown-kid",
        "alg-none",
        "hs256",
        "wrong-audience",
        "wrong-issuer",
        "expired",
        "wrong-type",
        "bad-subject",
        "garbage",
        "three-garbage-parts",
    ],
)
async def test_bad_access_tokens_are_refused(
    client: httpx.AsyncClient, world: Any, make_token: Any, code: str
) -> None:
    response = await client.get(WHOAMI, headers=bearer(make_token(world)))

    assert_problem(response, 401, code)
    # RFC 6750 §3: a token that was sent but does not do is `invalid_token`.
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}],
    ids=["missing", "basic", "empty-bearer"],
)
async def test_requests_without_a_bearer_token_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get(WHOAMI, headers=headers)

    assert_problem(response, 401, "unauthorized")
    # RFC 6750 §3: no credentials, no error code: just the scheme to use.
    assert response.headers["www-authenticate"] == "Bearer"
