"""WeChat mini-program login: `POST /v1/auth/wechat`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.identity.models import RefreshToken, SubjectType, WeChatAccessToken
from app.volunteers.models import Volunteer
from fakes.wechat import openid_for, session_key_for, unionid_for
from tests.builders import make_region, make_volunteer, volunteer_auth
from tests.identity.conftest import (
    FakeWeChat,
    assert_problem,
    closed_port_url,
    reload,
    running_app,
    wechat_answering,
)

LOGIN = "/v1/auth/wechat"


async def volunteer_count(session: AsyncSession) -> int:
    count = await session.scalar(select(func.count()).select_from(Volunteer))
    await session.commit()
    return int(count or 0)


async def by_openid(session: AsyncSession, openid: str) -> Volunteer | None:
    row = await session.scalar(
        select(Volunteer)
        .where(Volunteer.openid == openid)
        .execution_options(populate_existing=True)
    )
    await session.commit()
    return row


async def test_first_login_creates_the_volunteer_and_returns_tokens(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    response = await client.post(LOGIN, json={"code": "newbie", "region_code": world.region.code})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["is_new"] is True
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    volunteer = await by_openid(session, openid_for("newbie"))
    assert volunteer is not None
    assert str(volunteer.id) == body["volunteer_id"]
    assert volunteer.region_id == world.region.id
    assert volunteer.unionid is None
    assert volunteer.volunteer_no
    me = await client.get(
        "/v1/auth/whoami", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json() == {
        "kind": "volunteer",
        "id": body["volunteer_id"],
        "region_id": str(world.region.id),
        "scopes": [],
    }
    tokens = list(await session.scalars(select(RefreshToken)))
    await session.commit()
    assert [(t.subject_type, str(t.subject_id)) for t in tokens] == [
        (SubjectType.volunteer, body["volunteer_id"])
    ]
    assert body["refresh_token"] not in {t.token_hash for t in tokens}


async def test_returning_volunteer_logs_in_to_the_same_record(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    first = await client.post(LOGIN, json={"code": "again", "region_code": world.region.code})
    # A returning volunteer needs no region code: they already belong to one.
    second = await client.post(LOGIN, json={"code": "again"})

    assert second.status_code == 200, second.text
    assert second.json()["is_new"] is False
    assert second.json()["volunteer_id"] == first.json()["volunteer_id"]
    assert second.json()["refresh_token"] != first.json()["refresh_token"]
    assert await volunteer_count(session) == 4  # the world's three, and this one


async def test_volunteer_created_elsewhere_is_found_by_openid(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    volunteer = await make_volunteer(session, world.region, code="turing")

    response = await client.post(LOGIN, json={"code": "turing"})

    assert response.status_code == 200
    assert response.json()["volunteer_id"] == str(volunteer.id)
    assert response.json()["is_new"] is False


async def test_first_login_with_unionid_links_it(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    response = await client.post(
        LOGIN, json={"code": "ada+open-platform", "region_code": world.region.code}
    )

    assert response.status_code == 200
    volunteer = await by_openid(session, openid_for("ada"))
    assert volunteer is not None
    assert volunteer.unionid == unionid_for("open-platform")


async def test_returning_volunteer_without_unionid_gets_it_linked(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    volunteer = await make_volunteer(session, world.region, code="grace")
    assert volunteer.unionid is None

    response = await client.post(LOGIN, json={"code": "grace+open-platform"})

    assert response.json()["volunteer_id"] == str(volunteer.id)
    linked = await reload(session, Volunteer, volunteer.id)
    assert linked is not None
    assert linked.unionid == unionid_for("open-platform")


async def test_unionid_finds_the_person_under_another_openid(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    volunteer = await make_volunteer(
        session, world.region, code="hopper", unionid=unionid_for("hopper-union")
    )

    response = await client.post(LOGIN, json={"code": "hopper-other-app+hopper-union"})

    assert response.status_code == 200
    assert response.json()["volunteer_id"] == str(volunteer.id)
    assert response.json()["is_new"] is False
    assert await volunteer_count(session) == 4


async def test_sole_region_is_chosen_without_a_region_code(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    region = await make_region(session, code="onlyone")

    response = await client.post(LOGIN, json={"code": "solo"})

    assert response.status_code == 200, response.text
    volunteer = await by_openid(session, openid_for("solo"))
    assert volunteer is not None
    assert volunteer.region_id == region.id


async def test_first_login_needs_a_region_code_when_several_regions_run(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    response = await client.post(LOGIN, json={"code": "undecided"})

    assert_problem(response, 422, "region_code_required")
    assert await by_openid(session, openid_for("undecided")) is None


async def test_unknown_region_code_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    response = await client.post(LOGIN, json={"code": "lost", "region_code": "atlantis"})

    assert_problem(response, 422, "region_code_unknown")
    assert await by_openid(session, openid_for("lost")) is None


@pytest.mark.parametrize(
    ("code", "status", "problem", "retry_after"),
    [
        ("err-40029", 401, "wechat_code_invalid", None),
        ("err-40163", 401, "wechat_code_invalid", None),
        # WeChat's quota and WeChat busy are the service's trouble, not the caller's: 503.
        ("err-45011", 503, "wechat_rate_limited", "60"),
        ("err--1", 503, "wechat_busy", "1"),
        ("err-40226", 403, "wechat_user_blocked", None),
        ("err-40099", 502, "wechat_error", None),
    ],
)
async def test_wechat_errcodes_map_to_problems_and_create_nobody(
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: Any,
    code: str,
    status: int,
    problem: str,
    retry_after: str | None,
) -> None:
    response = await client.post(LOGIN, json={"code": code, "region_code": world.region.code})

    body = assert_problem(response, status, problem)
    assert body["wechat_errcode"] == int(code[4:])
    assert response.headers.get("retry-after") == retry_after
    assert await volunteer_count(session) == 3
    assert await session.scalar(select(func.count()).select_from(RefreshToken)) == 0


async def test_unreachable_wechat_is_a_retryable_503(
    app: Any, settings: Settings, session: AsyncSession, world: Any
) -> None:
    offline = settings.model_copy(update={"wechat_api_base": closed_port_url()})
    async with running_app(offline) as (_, client):
        response = await client.post(LOGIN, json={"code": "x", "region_code": world.region.code})

    assert_problem(response, 503, "wechat_unreachable")
    assert response.headers["retry-after"] == "2"
    assert await volunteer_count(session) == 3


async def test_wechat_timeout_is_a_retryable_503(app: Any, client: httpx.AsyncClient) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    async with wechat_answering(app, hang):
        response = await client.post(LOGIN, json={"code": "slowpoke"})

    assert_problem(response, 503, "wechat_unreachable")


@pytest.mark.parametrize(
    ("status", "content", "problem"),
    [
        (200, b"<html>not json</html>", "wechat_error"),
        (200, b"[1, 2]", "wechat_error"),
        (200, b'{"session_key": "k"}', "wechat_error"),
        (200, b'{"errcode": "x"}', "wechat_error"),
        (404, b"{}", "wechat_error"),
        (502, b"bad gateway", "wechat_busy"),
    ],
)
async def test_unreadable_wechat_answers_are_upstream_problems(
    app: Any,
    client: httpx.AsyncClient,
    status: int,
    content: bytes,
    problem: str,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content)

    async with wechat_answering(app, answer):
        response = await client.post(LOGIN, json={"code": "odd"})

    assert_problem(response, 502 if problem == "wechat_error" else 503, problem)


async def test_secret_session_key_and_access_token_never_leak(
    client: httpx.AsyncClient,
    app: Any,
    session: AsyncSession,
    settings: Settings,
    world: Any,
    wechat_fake: FakeWeChat,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = [
        await client.post(LOGIN, json={"code": "leaky", "region_code": world.region.code}),
        await client.post(LOGIN, json={"code": "leaky"}),
        await client.post(LOGIN, json={"code": "err-40029"}),
        await client.post(LOGIN, json={"code": "err-40099"}),
        await client.post(
            "/v1/me/phone",
            json={"code": "phone-13812345678"},
            headers=volunteer_auth(app, world.volunteer_a),
        ),
        await client.post(
            "/v1/me/phone", json={"code": "err-1"}, headers=volunteer_auth(app, world.volunteer_a)
        ),
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 502, 200, 502]
    cached = await session.scalar(select(WeChatAccessToken))
    await session.commit()
    assert cached is not None
    assert cached.access_token

    secret, session_key = settings.wechat_secret.get_secret_value(), session_key_for("leaky")
    said = [r.text + repr(r.headers) for r in responses]
    logged = [(rec.name, rec.getMessage() + repr(rec.__dict__)) for rec in caplog.records]
    assert any(name == "httpx" for name, _ in logged), "httpx's log line was not seen"
    for value in (secret, session_key, cached.access_token):
        assert not [text for text in said if value in text]
    for value in (secret, session_key):
        assert not [line for _, line in logged if value in line]
    # The access token is stored, so only the SQLite driver's statement trace (DEBUG,
    # which echoes every stored value) may show it.
    assert not [
        line for name, line in logged if cached.access_token in line and name != "aiosqlite"
    ]


async def test_a_wrong_app_secret_is_an_upstream_error_that_does_not_echo_it(
    app: Any, settings: Settings, world: Any
) -> None:
    wrong = settings.model_copy(update={"wechat_secret": SecretStr("not-the-secret-42")})
    async with running_app(wrong) as (other, client):
        login = await client.post(LOGIN, json={"code": "x", "region_code": world.region.code})
        phone = await client.post(
            "/v1/me/phone",
            json={"code": "phone-13812345678"},
            headers=volunteer_auth(other, world.volunteer_a),
        )

    for response in (login, phone):
        body = assert_problem(response, 502, "wechat_error")
        assert body["wechat_errcode"] == 40125
        assert "not-the-secret-42" not in response.text


async def test_concurrent_first_logins_create_one_volunteer(
    client: httpx.AsyncClient, session: AsyncSession, world: Any
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(LOGIN, json={"code": "twin", "region_code": world.region.code})
            for _ in range(5)
        )
    )

    assert [r.status_code for r in responses] == [200] * 5
    assert len({r.json()["volunteer_id"] for r in responses}) == 1
    assert sorted(r.json()["is_new"] for r in responses) == [False] * 4 + [True]
    assert await volunteer_count(session) == 4
