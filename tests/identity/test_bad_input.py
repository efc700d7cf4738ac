"""Bad input to identity's routes: a problem+json, and nothing changed anywhere."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.security import hash_secret, new_secret
from app.identity.models import LoginThrottle, RefreshToken, StaffUser, SubjectType
from app.volunteers.models import Volunteer
from tests.builders import PASSWORD
from tests.identity.conftest import FakeWeChat, assert_problem

# Each route with a valid body; the cases below spoil it one way at a time.
ROUTES = [
    "/v1/auth/wechat",
    "/v1/auth/login",
    "/v1/auth/refresh",
    "/v1/auth/logout",
    "/v1/me/phone",
]


def valid_body(route: str, world: Any, refresh_token: str) -> dict[str, Any]:
    return {
        "/v1/auth/wechat": {"code": "careful", "region_code": world.region.code},
        "/v1/auth/login": {"username": world.organizer_x.username, "password": PASSWORD},
        "/v1/auth/refresh": {"refresh_token": refresh_token},
        "/v1/auth/logout": {"refresh_token": refresh_token},
        "/v1/me/phone": {"code": "phone-13812345678"},
    }[route]


def a_string_field(body: dict[str, Any]) -> str:
    return next(iter(body))


def unknown_field(body: dict[str, Any]) -> dict[str, Any]:
    return {"json": body | {"is_admin": True}}


def wrong_type(body: dict[str, Any]) -> dict[str, Any]:
    return {"json": body | {a_string_field(body): 12345}}


def oversize(body: dict[str, Any]) -> dict[str, Any]:
    return {"json": body | {a_string_field(body): "a" * 300}}


def missing_field(body: dict[str, Any]) -> dict[str, Any]:
    field = a_string_field(body)
    return {"json": {k: v for k, v in body.items() if k != field}}


def not_an_object(body: dict[str, Any]) -> dict[str, Any]:
    return {"json": [body]}


def malformed_json(body: dict[str, Any]) -> dict[str, Any]:
    return {"content": b'{"code": ', "headers": {"Content-Type": "application/json"}}


def form_encoded(body: dict[str, Any]) -> dict[str, Any]:
    return {"data": {k: str(v) for k, v in body.items()}}


def text_plain(body: dict[str, Any]) -> dict[str, Any]:
    return {"content": b"code=abc", "headers": {"Content-Type": "text/plain"}}


def no_content_type(body: dict[str, Any]) -> dict[str, Any]:
    return {"content": json.dumps(body).encode()}


def no_body(body: dict[str, Any]) -> dict[str, Any]:
    return {}


CASES = [
    (unknown_field, 422, "validation_failed"),
    (wrong_type, 422, "validation_failed"),
    (oversize, 422, "validation_failed"),
    (missing_field, 422, "validation_failed"),
    (not_an_object, 422, "validation_failed"),
    (no_body, 422, "validation_failed"),
    (malformed_json, 400, "malformed_body"),
    (form_encoded, 415, "unsupported_media_type"),
    (text_plain, 415, "unsupported_media_type"),
    (no_content_type, 415, "unsupported_media_type"),
]


async def make_refresh_token(session: AsyncSession, user: StaffUser) -> str:
    token = new_secret()
    now = clock.now()
    session.add(
        RefreshToken(
            family_id=uuid.uuid4(),
            subject_type=SubjectType.staff,
            subject_id=user.id,
            region_id=user.region_id,
            token_hash=hash_secret(token),
            created_at=now,
            expires_at=now + timedelta(days=1),
            family_started_at=now,
        )
    )
    await session.commit()
    return token


async def snapshot(session: AsyncSession) -> dict[str, Any]:
    volunteers = list(await session.scalars(select(Volunteer).order_by(Volunteer.id)))
    staff = list(await session.scalars(select(StaffUser).order_by(StaffUser.id)))
    tokens = list(await session.scalars(select(RefreshToken).order_by(RefreshToken.id)))
    state = {
        "volunteers": [(v.id, v.openid, v.unionid, v.phone) for v in volunteers],
        "staff": [(s.id, s.password_hash, s.is_active) for s in staff],
        "tokens": [(t.id, t.used_at, t.revoked_at) for t in tokens],
        "count": await session.scalar(select(func.count()).select_from(RefreshToken)),
        "throttles": await session.scalar(select(func.count()).select_from(LoginThrottle)),
    }
    await session.commit()
    session.expunge_all()
    return state


@pytest.mark.parametrize(
    ("spoil", "status", "code"), CASES, ids=[case[0].__name__ for case in CASES]
)
@pytest.mark.parametrize("route", ROUTES)
async def test_bad_input_is_a_problem_and_changes_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: Any,
    wechat_fake: FakeWeChat,
    route: str,
    spoil: Any,
    status: int,
    code: str,
) -> None:
    refresh_token = await make_refresh_token(session, world.center_admin)
    before = await snapshot(session)
    calls_before = await wechat_fake.stats()

    request = spoil(valid_body(route, world, refresh_token))
    request["headers"] = world.auth["volunteer_a"] | request.get("headers", {})
    response = await client.post(route, **request)

    body = assert_problem(response, status, code)
    assert body["instance"] == route
    if code == "validation_failed":
        assert body["errors"], body
        assert all("field" in e and "message" in e for e in body["errors"])
    assert await snapshot(session) == before
    assert await wechat_fake.stats() == calls_before


async def test_validation_problems_name_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/login", json={"username": "", "password": 1})

    body = assert_problem(response, 422, "validation_failed")
    assert sorted(e["field"] for e in body["errors"]) == ["body.password", "body.username"]


async def test_wechat_codes_with_spaces_or_controls_never_reach_wechat(
    client: httpx.AsyncClient, world: Any, wechat_fake: FakeWeChat
) -> None:
    for code in ("has space", "tab\there", "新"):
        response = await client.post(
            "/v1/auth/wechat", json={"code": code, "region_code": world.region.code}
        )
        assert_problem(response, 422, "validation_failed")
    assert (await wechat_fake.stats())["jscode2session"] == 0


@pytest.mark.parametrize("route", ROUTES)
async def test_the_unspoiled_bodies_are_accepted(
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: Any,
    wechat_fake: FakeWeChat,
    route: str,
) -> None:
    refresh_token = await make_refresh_token(session, world.center_admin)

    response = await client.post(
        route, json=valid_body(route, world, refresh_token), headers=world.auth["volunteer_a"]
    )

    assert response.status_code in (200, 204), response.text
