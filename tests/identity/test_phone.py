"""Phone binding, `POST /v1/me/phone`, and the shared cache of WeChat's access token."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.config import Settings
from app.identity.models import WeChatAccessToken
from app.volunteers.models import Volunteer
from tests.builders import make_volunteer, staff_auth, volunteer_auth
from tests.identity.conftest import (
    FakeWeChat,
    assert_problem,
    reload,
    running_app,
    wechat_answering,
)

PHONE = "/v1/me/phone"


async def phone_of(session: AsyncSession, volunteer: Volunteer) -> str | None:
    row = await reload(session, Volunteer, volunteer.id)
    assert row is not None
    return row.phone


async def test_binding_stores_the_number_and_returns_it_to_the_owner(
    client: httpx.AsyncClient, app: Any, session: AsyncSession, world: Any, wechat_fake: FakeWeChat
) -> None:
    response = await client.post(
        PHONE, json={"code": "phone-13812345678"}, headers=world.auth["volunteer_a"]
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"phone": "13812345678"}
    assert await phone_of(session, world.volunteer_a) == "13812345678"
    assert await phone_of(session, world.volunteer_b) is None
    assert await wechat_fake.stats() == {
        "jscode2session": 0,
        "stable_token": 1,
        "getuserphonenumber": 1,
        "subscribe_send": 0,
    }


async def test_the_access_token_is_cached_in_the_database(
    client: httpx.AsyncClient, session: AsyncSession, world: Any, wechat_fake: FakeWeChat
) -> None:
    for who, number in (("volunteer_a", "13800000001"), ("volunteer_b", "13800000002")):
        response = await client.post(
            PHONE, json={"code": f"phone-{number}"}, headers=world.auth[who]
        )
        assert response.status_code == 200

    assert (await wechat_fake.stats())["stable_token"] == 1
    cached = await session.scalar(select(WeChatAccessToken))
    await session.commit()
    assert cached is not None
    assert cached.access_token
    assert cached.expires_at is not None
    assert cached.expires_at > clock.now() + timedelta(hours=1)


async def test_the_token_is_refreshed_shortly_before_it_expires(
    client: httpx.AsyncClient, app: Any, world: Any, wechat_fake: FakeWeChat
) -> None:
    start = clock.now()

    async def bind(number: str) -> None:
        response = await client.post(
            PHONE,
            json={"code": f"phone-{number}"},
            headers=volunteer_auth(app, world.volunteer_a),
        )
        assert response.status_code == 200, response.text

    await bind("13800000001")
    with clock.travel(start + timedelta(hours=1)):
        await bind("13800000002")
        assert (await wechat_fake.stats())["stable_token"] == 1
    # WeChat's token lives two hours; inside its last five minutes it is renewed.
    with clock.travel(start + timedelta(hours=2) - timedelta(minutes=3)):
        await bind("13800000003")
        assert (await wechat_fake.stats())["stable_token"] == 2


async def test_a_token_wechat_no_longer_accepts_is_refreshed_once_and_retried(
    client: httpx.AsyncClient, session: AsyncSession, world: Any, wechat_fake: FakeWeChat
) -> None:
    first = await client.post(
        PHONE, json={"code": "phone-13800000001"}, headers=world.auth["volunteer_a"]
    )
    assert first.status_code == 200
    await wechat_fake.expire_access_token()

    second = await client.post(
        PHONE, json={"code": "phone-13900000009"}, headers=world.auth["volunteer_a"]
    )

    assert second.status_code == 200, second.text
    assert second.json() == {"phone": "13900000009"}
    assert await wechat_fake.stats() == {
        "jscode2session": 0,
        "stable_token": 2,
        "getuserphonenumber": 3,
        "subscribe_send": 0,
    }
    assert await phone_of(session, world.volunteer_a) == "13900000009"


async def test_twenty_concurrent_bindings_refresh_the_token_once(
    client: httpx.AsyncClient, app: Any, session: AsyncSession, world: Any, wechat_fake: FakeWeChat
) -> None:
    volunteers = [await make_volunteer(session, world.region) for _ in range(20)]

    responses = await asyncio.gather(
        *(
            client.post(
                PHONE, json={"code": f"phone-139000000{i:02d}"}, headers=volunteer_auth(app, v)
            )
            for i, v in enumerate(volunteers)
        )
    )

    assert [r.status_code for r in responses] == [200] * 20
    assert await wechat_fake.stats() == {
        "jscode2session": 0,
        "stable_token": 1,
        "getuserphonenumber": 20,
        "subscribe_send": 0,
    }
    for i, volunteer in enumerate(volunteers):
        assert await phone_of(session, volunteer) == f"139000000{i:02d}"


async def test_two_processes_share_one_refresh(
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
    session: AsyncSession,
    world: Any,
    wechat_fake: FakeWeChat,
) -> None:
    volunteers = [await make_volunteer(session, world.region) for _ in range(20)]

    async with running_app(settings) as (other_app, other_client):
        responses = await asyncio.gather(
            *(
                (client if i % 2 else other_client).post(
                    PHONE,
                    json={"code": f"phone-137000000{i:02d}"},
                    headers=volunteer_auth(app if i % 2 else other_app, v),
                )
                for i, v in enumerate(volunteers)
            )
        )

    assert [r.status_code for r in responses] == [200] * 20
    assert (await wechat_fake.stats())["stable_token"] == 1


@pytest.mark.parametrize(
    ("code", "status", "problem"),
    [
        ("not-a-phone-code", 422, "wechat_phone_code_invalid"),
        ("err-40029", 422, "wechat_phone_code_invalid"),
        ("err-45011", 503, "wechat_rate_limited"),
        ("err--1", 503, "wechat_busy"),
        ("err-40226", 403, "wechat_user_blocked"),
        ("err-47001", 502, "wechat_error"),
    ],
)
async def test_wechat_refusals_leave_the_phone_unchanged(
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: Any,
    wechat_fake: FakeWeChat,
    code: str,
    status: int,
    problem: str,
) -> None:
    response = await client.post(PHONE, json={"code": code}, headers=world.auth["volunteer_a"])

    assert_problem(response, status, problem)
    assert ("retry-after" in response.headers) == (status == 503)
    assert await phone_of(session, world.volunteer_a) is None


async def test_a_token_refused_even_after_refreshing_is_an_upstream_error(
    client: httpx.AsyncClient, app: Any, session: AsyncSession, world: Any
) -> None:
    calls: list[str] = []

    def wechat(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/stable_token"):
            token = f"token-{len(calls)}"
            return httpx.Response(200, json={"access_token": token, "expires_in": 7200})
        return httpx.Response(200, json={"errcode": 40001, "errmsg": "invalid credential"})

    async with wechat_answering(app, wechat):
        response = await client.post(
            PHONE, json={"code": "phone-13812345678"}, headers=world.auth["volunteer_a"]
        )

    assert_problem(response, 502, "wechat_error")
    assert [path.rsplit("/", 1)[1] for path in calls] == [
        "stable_token",
        "getuserphonenumber",
        "stable_token",
        "getuserphonenumber",
    ]
    assert await phone_of(session, world.volunteer_a) is None


async def test_a_number_issued_to_another_app_is_refused(
    client: httpx.AsyncClient, app: Any, session: AsyncSession, world: Any
) -> None:
    def wechat(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stable_token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 7200})
        assert json.loads(request.content) == {"code": "phone-13812345678"}
        info = {
            "phoneNumber": "13812345678",
            "purePhoneNumber": "13812345678",
            "countryCode": "86",
            "watermark": {"appid": "wxsomeoneelse", "timestamp": 0},
        }
        return httpx.Response(200, json={"errcode": 0, "phone_info": info})

    async with wechat_answering(app, wechat):
        response = await client.post(
            PHONE, json={"code": "phone-13812345678"}, headers=world.auth["volunteer_a"]
        )

    assert_problem(response, 502, "wechat_error")
    assert await phone_of(session, world.volunteer_a) is None


async def test_a_foreign_number_keeps_its_country_code(
    client: httpx.AsyncClient, app: Any, session: AsyncSession, world: Any
) -> None:
    def wechat(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stable_token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 7200})
        info = {"phoneNumber": "+852 61234567", "purePhoneNumber": "61234567", "countryCode": "852"}
        return httpx.Response(200, json={"errcode": 0, "phone_info": info})

    async with wechat_answering(app, wechat):
        response = await client.post(
            PHONE, json={"code": "phone-hk"}, headers=world.auth["volunteer_a"]
        )

    assert response.json() == {"phone": "+85261234567"}
    assert await phone_of(session, world.volunteer_a) == "+85261234567"


async def test_staff_cannot_bind_a_phone(
    client: httpx.AsyncClient, app: Any, world: Any, wechat_fake: FakeWeChat
) -> None:
    response = await client.post(
        PHONE, json={"code": "phone-13812345678"}, headers=staff_auth(app, world.center_admin)
    )

    assert_problem(response, 403, "forbidden")
    assert (await wechat_fake.stats())["getuserphonenumber"] == 0


async def test_binding_needs_a_token(
    client: httpx.AsyncClient, session: AsyncSession, world: Any, wechat_fake: FakeWeChat
) -> None:
    response = await client.post(PHONE, json={"code": "phone-13812345678"})

    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await wechat_fake.stats())["getuserphonenumber"] == 0
