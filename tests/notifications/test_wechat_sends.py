"""The sender job against the fake WeChat: what is sent, what each errcode does to the
send and the credit, the hourly limit, quiet hours, the token and the lease."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import update

from app.core import clock
from app.notifications.kinds import NotificationKind
from app.notifications.models import NotificationConsent, SendStatus, WeChatSend
from app.notifications.wechat import repository
from app.volunteers.models import Volunteer
from tests.builders import World
from tests.notifications.conftest import (
    HOURS,
    PAGE,
    TEMPLATE,
    FakeSubscribe,
    accept,
    credits_of,
    put_template,
    send_due,
    sends_of,
    tell,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def ready(client: httpx.AsyncClient, app: Any, world: World, wechat: FakeSubscribe) -> World:
    """The region's template for approved hours, and one credit of volunteer A's."""
    assert (await put_template(client, world)).status_code == 200
    await accept(client, app, world.volunteer_a)
    return world


async def test_a_message_carries_the_template_fields_and_nothing_else(
    app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    volunteer = ready.volunteer_a
    await tell(app, volunteer)

    assert await send_due(app) == 1

    assert await wechat.messages() == [
        {
            "touser": volunteer.openid,
            "template_id": TEMPLATE,
            "page": PAGE,
            "data": {
                "thing1": {"value": "周六社区环境整治"},
                "number2": {"value": "2.5"},
                "date3": {"value": "2026年12月5日"},
            },
            "miniprogram_state": "formal",
            "lang": "zh_CN",
        }
    ]
    (send,) = await sends_of(app, volunteer)
    assert (send.status, send.errcode, send.attempts, send.lease_until) == (
        SendStatus.sent,
        0,
        1,
        None,
    )
    assert send.sent_at is not None
    assert await credits_of(app, volunteer) == 0


async def test_two_accepts_allow_two_messages_and_a_third_falls_back_to_the_inbox(
    client: httpx.AsyncClient, app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    volunteer = ready.volunteer_a
    await accept(client, app, volunteer)
    for _ in range(2):
        await tell(app, volunteer)
        await send_due(app)
    # Queued while a credit was held, but the credit went to the message before it.
    await accept(client, app, volunteer)
    await tell(app, volunteer)
    await tell(app, volunteer)
    await send_due(app)

    statuses = [s.status for s in await sends_of(app, volunteer)]
    assert statuses == [SendStatus.sent] * 3 + [SendStatus.fallback]
    assert len(await wechat.messages()) == 3
    assert (await wechat.stats())["subscribe_send"] == 3
    assert await credits_of(app, volunteer) == 0
    # With no credit, a notification is the inbox's alone: no send is queued at all.
    await tell(app, volunteer)
    assert len(await sends_of(app, volunteer)) == 4


async def test_43101_drops_the_credits_and_falls_back(
    client: httpx.AsyncClient, app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    volunteer = ready.volunteer_a
    await accept(client, app, volunteer, times=2)
    await tell(app, volunteer)
    await wechat.answer_next(43101)

    await send_due(app)

    (send,) = await sends_of(app, volunteer)
    assert (send.status, send.errcode) == (SendStatus.fallback, 43101)
    assert await credits_of(app, volunteer) == 0
    assert await wechat.messages() == []


@pytest.mark.parametrize("errcode", [40001, 42001])
async def test_a_refused_token_is_refreshed_once_and_the_message_sent_at_once(
    client: httpx.AsyncClient, app: Any, ready: World, wechat: FakeSubscribe, errcode: int
) -> None:
    await tell(app, ready.volunteer_a)
    await send_due(app)  # the first token
    assert (await wechat.stats())["stable_token"] == 1

    await wechat.answer_next(errcode)
    volunteer = ready.volunteer_b
    await accept(client, app, volunteer)
    await tell(app, volunteer)
    await send_due(app)

    (send,) = await sends_of(app, volunteer)
    assert (send.status, send.attempts) == (SendStatus.sent, 1)
    stats = await wechat.stats()
    assert stats["stable_token"] == 2
    assert stats["subscribe_send"] == 3


async def test_a_token_another_client_replaced_is_refreshed_once(
    client: httpx.AsyncClient, app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    await tell(app, ready.volunteer_a)
    await send_due(app)
    await wechat.expire_access_token()
    await accept(client, app, ready.volunteer_b)
    await tell(app, ready.volunteer_b)

    await send_due(app)

    assert [s.status for s in await sends_of(app, ready.volunteer_b)] == [SendStatus.sent]
    assert (await wechat.stats())["stable_token"] == 2


@pytest.mark.parametrize("errcode", [45009, -1])
async def test_a_busy_or_rate_limited_wechat_gives_the_credit_back_and_retries_later(
    app: Any, ready: World, wechat: FakeSubscribe, errcode: int
) -> None:
    volunteer = ready.volunteer_a
    await tell(app, volunteer)
    await wechat.answer_next(errcode)

    await send_due(app)

    (send,) = await sends_of(app, volunteer)
    assert (send.status, send.errcode, send.attempts) == (SendStatus.pending, errcode, 1)
    assert send.available_at > clock.now() + timedelta(seconds=29)
    assert await credits_of(app, volunteer) == 1
    assert await send_due(app) == 0  # not due yet

    with clock.travel(send.available_at + timedelta(seconds=1)):
        await send_due(app)
    (send,) = await sends_of(app, volunteer)
    assert (send.status, send.attempts) == (SendStatus.sent, 2)
    assert await credits_of(app, volunteer) == 0


async def test_the_waits_double_and_the_send_is_dead_after_the_last_attempt(
    app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    volunteer = ready.volunteer_a
    await tell(app, volunteer)
    max_attempts = app.state.settings.notification_wechat_max_attempts
    await wechat.answer_next(*([-1] * max_attempts))
    waits = []
    at = clock.now()
    for _ in range(max_attempts):
        with clock.travel(at):
            await send_due(app)
        (send,) = await sends_of(app, volunteer)
        waits.append((send.available_at - at).total_seconds())
        at = send.available_at + timedelta(seconds=1)

    assert send.status == SendStatus.dead
    assert send.attempts == max_attempts
    assert "-1" in (send.last_error or "")
    base = app.state.settings.notification_wechat_backoff_base_seconds
    for n, wait in enumerate(waits[:4]):
        assert base * 2**n <= wait <= base * 2**n * 1.2 + 1
    assert await credits_of(app, volunteer) == 1


async def test_an_unreachable_wechat_is_retried_like_a_busy_one(
    app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    await tell(app, ready.volunteer_a)
    with_closed = app.state.settings.model_copy(update={"wechat_api_base": "http://127.0.0.1:9"})
    app.state.settings = with_closed
    try:
        await send_due(app)
    finally:
        app.state.settings = with_closed.model_copy(update={"wechat_api_base": wechat.url})

    (send,) = await sends_of(app, ready.volunteer_a)
    assert (send.status, send.errcode) == (SendStatus.pending, None)
    assert send.last_error
    assert await credits_of(app, ready.volunteer_a) == 1


async def test_an_invalid_openid_is_our_bug_dead_at_once_never_retried(
    app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    volunteer = ready.volunteer_a
    async with app.state.db.sessions() as session, session.begin():
        await session.execute(
            update(Volunteer).where(Volunteer.id == volunteer.id).values(openid="not-an-openid")
        )
    await tell(app, volunteer)

    await send_due(app)

    (send,) = await sends_of(app, volunteer)
    assert (send.status, send.errcode) == (SendStatus.dead, 40003)
    with clock.travel(clock.now() + timedelta(days=1)):
        assert await send_due(app) == 0
    assert (await wechat.stats())["subscribe_send"] == 1
    assert await credits_of(app, volunteer) == 1


async def test_a_template_wechat_does_not_know_is_dead(
    client: httpx.AsyncClient, app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    volunteer = ready.volunteer_a
    unknown = {"thing1": "activity_title"}
    await put_template(
        client, ready, kind="hours.corrected", template_id="tmpl-gone", fields=unknown
    )
    await accept(client, app, volunteer, "tmpl-gone")
    await tell(app, volunteer, kind=NotificationKind.hours_corrected)

    await send_due(app)

    (send,) = await sends_of(app, volunteer)
    assert (send.status, send.errcode) == (SendStatus.dead, 40037)


async def test_data_that_does_not_match_the_template_is_dead(
    client: httpx.AsyncClient, app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    # The region mapped fewer fields than the account's template has.
    await put_template(client, ready, fields={"thing1": "activity_title"})
    await tell(app, ready.volunteer_a)

    await send_due(app)

    (send,) = await sends_of(app, ready.volunteer_a)
    assert (send.status, send.errcode) == (SendStatus.dead, 47003)
    assert "47003" in (send.last_error or "")


async def test_a_value_no_field_can_hold_is_dead_before_any_call(
    app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    await tell(app, ready.volunteer_a, data=HOURS | {"hours": "two and a half"})

    await send_due(app)

    (send,) = await sends_of(app, ready.volunteer_a)
    assert send.status == SendStatus.dead
    assert send.errcode is None
    assert send.last_error == "number2 (hours): 'two and a half' is not a number of digits"
    assert (await wechat.stats())["subscribe_send"] == 0
    assert await credits_of(app, ready.volunteer_a) == 1


async def test_a_long_title_is_cut_with_an_ellipsis(
    app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    title = "二〇二六年冬季社区环境整治暨垃圾分类宣传志愿服务活动"
    await tell(app, ready.volunteer_a, data=HOURS | {"activity_title": title})

    await send_due(app)

    (message,) = await wechat.messages()
    assert message["data"]["thing1"]["value"] == title[:19] + "…"


async def test_a_removed_template_leaves_the_inbox_row_alone(
    client: httpx.AsyncClient, app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    await tell(app, ready.volunteer_a)
    await client.delete(
        "/v1/notification-templates/hours.approved", headers=ready.auth["center_admin"]
    )

    await send_due(app)

    (send,) = await sends_of(app, ready.volunteer_a)
    assert send.status == SendStatus.fallback
    assert (await wechat.stats())["subscribe_send"] == 0


async def test_past_the_hourly_limit_a_send_waits_until_the_window_allows(
    client: httpx.AsyncClient, app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    volunteer = ready.volunteer_a
    limit = app.state.settings.notification_wechat_per_person_per_hour
    await accept(client, app, volunteer, times=limit)  # and the one of `ready`
    start = clock.now()
    for minute in range(limit + 1):
        with clock.travel(start + timedelta(minutes=minute)):
            await tell(app, volunteer)
            await send_due(app)

    sends = await sends_of(app, volunteer)
    assert [s.status for s in sends] == [SendStatus.sent] * limit + [SendStatus.pending]
    first_sent = sends[0].sent_at
    assert first_sent is not None
    held = sends[-1]
    assert held.available_at == first_sent + timedelta(hours=1)
    assert held.attempts == 0
    assert await credits_of(app, volunteer) == 1

    with clock.travel(held.available_at - timedelta(seconds=5)):
        assert await send_due(app) == 0
    with clock.travel(held.available_at + timedelta(seconds=1)):
        await send_due(app)
    assert (await sends_of(app, volunteer))[-1].status == SendStatus.sent


async def test_emergencies_are_not_held_by_the_hourly_limit(
    client: httpx.AsyncClient, app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    volunteer = ready.volunteer_a
    limit = app.state.settings.notification_wechat_per_person_per_hour
    await accept(client, app, volunteer, times=limit)
    for _ in range(limit):
        await tell(app, volunteer)
    await send_due(app)
    await put_template(
        client,
        ready,
        kind="emergency.callout",
        template_id="tmpl-callout",
        fields={"thing1": "muster_point", "time2": "muster_by"},
    )
    await wechat.add_template("tmpl-callout", ["thing1", "time2"])
    await accept(client, app, volunteer, "tmpl-callout")
    await tell(app, volunteer, kind=NotificationKind.emergency_callout, data=_callout())

    await send_due(app)

    assert [s.status for s in await sends_of(app, volunteer)] == [SendStatus.sent] * (limit + 1)


def _callout() -> dict[str, Any]:
    return {
        "alert_id": "a1",
        "alert_kind": "flood",
        "drill": False,
        "muster_point": "松陵街道应急集结点",
        "muster_by": "2026-12-08T23:15:00+08:00",
    }


async def test_a_notification_at_2230_is_sent_at_0700_region_time_and_an_emergency_at_once(
    client: httpx.AsyncClient, app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    volunteer = ready.volunteer_a
    await put_template(
        client,
        ready,
        kind="emergency.callout",
        template_id="tmpl-callout",
        fields={"thing1": "muster_point", "time2": "muster_by"},
    )
    await wechat.add_template("tmpl-callout", ["thing1", "time2"])
    await accept(client, app, volunteer, "tmpl-callout")
    evening = datetime(2026, 12, 8, 22, 30, tzinfo=SHANGHAI)
    with clock.travel(evening):
        await tell(app, volunteer)
        await tell(app, volunteer, kind=NotificationKind.emergency_callout, data=_callout())
        await send_due(app)
    (message,) = await wechat.messages()
    assert message["template_id"] == "tmpl-callout"
    assert message["data"]["time2"] == {"value": "2026年12月8日 23:15"}

    held, _ = await sends_of(app, volunteer)
    assert held.status == SendStatus.pending
    seven = datetime(2026, 12, 9, 7, 0, tzinfo=SHANGHAI)
    assert held.available_at == seven
    with clock.travel(seven - timedelta(minutes=1)):
        assert await send_due(app) == 0
    with clock.travel(seven + timedelta(seconds=1)):
        await send_due(app)
    assert [m["template_id"] for m in await wechat.messages()] == ["tmpl-callout", TEMPLATE]


async def test_a_send_whose_worker_died_is_claimed_again_when_its_lease_runs_out(
    app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    volunteer = ready.volunteer_a
    await tell(app, volunteer)
    # A worker claimed it, spent the credit, and died before WeChat answered.
    lease = clock.now() + timedelta(minutes=1)
    async with app.state.db.sessions() as session, session.begin():
        await session.execute(
            update(WeChatSend)
            .where(WeChatSend.volunteer_id == volunteer.id)
            .values(status=SendStatus.sending, lease_until=lease, attempts=1)
        )
    await _take_credit(app, volunteer)

    assert await send_due(app) == 0  # still leased

    with clock.travel(lease + timedelta(seconds=1)):
        assert await send_due(app) == 1
    (send,) = await sends_of(app, volunteer)
    assert (send.status, send.attempts) == (SendStatus.sent, 2)
    assert len(await wechat.messages()) == 1
    # The credit was spent by the first claim, not again.
    assert await credits_of(app, volunteer) == 0


async def _take_credit(app: Any, volunteer: Volunteer) -> None:
    async with app.state.db.sessions() as session, session.begin():
        await session.execute(
            update(NotificationConsent)
            .where(NotificationConsent.volunteer_id == volunteer.id)
            .values(credits=NotificationConsent.credits - 1)
        )


async def test_an_answer_recorded_after_the_lease_was_taken_over_is_not_kept(
    app: Any, ready: World, wechat: FakeSubscribe
) -> None:
    await tell(app, ready.volunteer_a)
    (send,) = await sends_of(app, ready.volunteer_a)
    async with app.state.db.sessions() as session, session.begin():
        kept = await repository.settle(
            session, send_id=send.id, attempt=3, values={"status": SendStatus.dead}
        )
    assert kept is False
    (send,) = await sends_of(app, ready.volunteer_a)
    assert send.status == SendStatus.pending
