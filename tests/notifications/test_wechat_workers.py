"""The sender beside others: two workers claiming at once, and what its logs hold."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.core.config import Settings
from app.identity.models import WeChatAccessToken
from app.notifications.models import SendStatus
from app.notifications.wechat.sender import WeChatSender
from tests.builders import World, make_volunteer
from tests.notifications.conftest import (
    FakeSubscribe,
    accept,
    credits_of,
    put_template,
    send_due,
    sends_of,
    tell,
)


@pytest.mark.postgres_only
async def test_two_workers_claiming_at_once_send_each_message_once(
    client: httpx.AsyncClient,
    app: Any,
    session: Any,
    world: World,
    settings: Settings,
    wechat: FakeSubscribe,
) -> None:
    assert (await put_template(client, world)).status_code == 200
    people = [await make_volunteer(session, world.region) for _ in range(30)]
    for person in people:
        await accept(client, app, person)
        await tell(app, person)

    async def worker() -> None:
        sender = WeChatSender(settings)
        while await sender(app.state.db.sessions):
            pass

    await asyncio.gather(worker(), worker())

    messages = await wechat.messages()
    assert sorted(m["touser"] for m in messages) == sorted(p.openid for p in people)
    for person in people:
        assert [s.status for s in await sends_of(app, person)] == [SendStatus.sent]
        assert await credits_of(app, person) == 0


async def test_the_logs_name_neither_the_person_nor_the_token(
    client: httpx.AsyncClient,
    app: Any,
    world: World,
    wechat: FakeSubscribe,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    assert (await put_template(client, world)).status_code == 200
    volunteer = world.volunteer_a
    await accept(client, app, volunteer, times=3)
    await tell(app, volunteer)
    await wechat.answer_next(40037)
    await tell(app, volunteer)
    await wechat.answer_next(42001)
    await tell(app, volunteer)

    await send_due(app)

    async with app.state.db.sessions() as s:
        token = await s.scalar(select(WeChatAccessToken.access_token))
    assert token
    assert any(r.getMessage() == "wechat refused a subscribe message" for r in caplog.records)
    assert any("subscribe/send" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        said = record.getMessage() + repr(record.__dict__)
        assert volunteer.openid not in said
        assert token not in said
