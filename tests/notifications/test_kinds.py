"""Every kind reaches the person it concerns through the real flows: the outbox events of
hours, 良票 and redemptions, a cancelled activity, the reminder and expiry jobs; an
event delivered again tells nobody twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import SignupStatus
from app.core import clock
from app.integrations.models import OutboxEvent
from app.notifications.models import Notification
from app.worker import run_once
from tests.activities.hours.support import approve, checkin_hours
from tests.activities.hours.support import make_activity as past_activity
from tests.activities.support import make_activity, sign_up_row
from tests.builders import World, volunteer_auth
from tests.merchants.conftest import Shop, fund, shop  # noqa: F401 - the fixture
from tests.orgs.support import Reader


@pytest.fixture
def db(app: Any) -> Reader:
    return Reader(app)


async def inbox(
    app: Any, client: httpx.AsyncClient, world: World, who: str = "volunteer_a"
) -> list[Any]:
    """The inbox, read with a token minted now (tests travel in time)."""
    response = await client.get(
        "/v1/me/notifications", headers=volunteer_auth(app, getattr(world, who))
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def kinds(items: list[Any]) -> list[str]:
    return sorted(n["kind"] for n in items)


async def test_approved_hours_and_their_rewards_are_told(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    activity = await past_activity(session, world.station_x, world.organizer_x, title="河道清洁")
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=90)
    await approve(client, world.auth["organizer_x"], record.id)
    await run_once(app.state.db)

    items = {n["kind"]: n for n in await inbox(app, client, world)}
    assert set(items) == {"hours.approved", "rewards.received"}
    hours = items["hours.approved"]
    assert hours["title"] == "工时已确认"
    assert "河道清洁" in hours["body"]
    assert "1.5 小时" in hours["body"]
    assert hours["data"]["hours_record_id"] == str(record.id)
    assert hours["data"]["activity_title"] == "河道清洁"
    rewards = items["rewards.received"]
    assert rewards["data"]["amount"] > 0
    assert f"{rewards['data']['amount']} 良票" in rewards["body"]
    assert await inbox(app, client, world, "volunteer_b") == []


async def test_rejected_hours_and_decided_corrections_are_told(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    organizer = world.auth["organizer_x"]
    activity = await past_activity(session, world.station_x, world.organizer_x, title="敬老")
    rejected = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    refused = await client.post(
        f"/v1/hours/{rejected.id}/reject", headers=organizer, json={"reason": "未到场"}
    )
    assert refused.status_code == 200
    other = await past_activity(session, world.station_x, world.organizer_x, title="助学")
    record = await checkin_hours(session, other, world.volunteer_a, minutes=60)
    await approve(client, organizer, record.id)
    for minutes, decision in ((90, "accept"), (120, "refuse")):
        current = (await client.get("/v1/me/hours", headers=world.auth["volunteer_a"])).json()
        approved = next(
            r
            for r in current["items"]
            if r["activity_id"] == str(other.id) and r["status"] == "approved"
        )
        asked = await client.post(
            f"/v1/hours/{approved['id']}/corrections",
            headers=world.auth["volunteer_a"],
            json={"minutes": minutes, "reason": "漏记"},
        )
        assert asked.status_code == 201, asked.text
        body = {"reason": "以签退为准"} if decision == "refuse" else None
        decided = await client.post(
            f"/v1/hours/corrections/{asked.json()['id']}/{decision}", headers=organizer, json=body
        )
        assert decided.status_code == 200, decided.text
    await run_once(app.state.db)

    items = await inbox(app, client, world)
    by_kind = {n["kind"]: n for n in items}
    assert by_kind["hours.rejected"]["data"]["reason"] == "未到场"
    assert "未到场" in by_kind["hours.rejected"]["body"]
    assert by_kind["hours.corrected"]["data"]["hours"] == "1.5"
    assert by_kind["hours.correction_refused"]["data"]["reason"] == "以签退为准"
    assert {"hours.approved", "hours.rejected", "hours.corrected", "hours.correction_refused"} <= {
        n["kind"] for n in items
    }


async def test_redemptions_voids_and_refunds_are_told_to_the_volunteer(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    shop: Shop,  # noqa: F811
) -> None:
    world = shop.world
    await fund(session, world.volunteer_a, 5_000)
    receipt = (
        await shop.client.redeem(await shop.code(client), request_no="N-1", amount=300)
    ).json()
    await shop.client.redeem(await shop.code(client), request_no="N-2", amount=200)
    assert (await shop.client.void("N-2")).status_code == 200
    refund = await client.post(
        f"/v1/merchants/{shop.merchant.id}/redemptions/{receipt['id']}/refunds",
        json={"refund_no": "F-1", "amount": 100},
        headers=shop.auth("owner"),
    )
    assert refund.status_code == 201, refund.text
    await run_once(app.state.db)

    items = await inbox(app, client, world)
    assert kinds(items) == [
        "redemption.receipt",
        "redemption.receipt",
        "redemption.refunded",
        "redemption.voided",
    ]
    voided = next(n for n in items if n["kind"] == "redemption.voided")
    assert voided["data"]["request_no"] == "N-2"
    assert voided["data"]["merchant_name"] == shop.merchant.name
    refunded = next(n for n in items if n["kind"] == "redemption.refunded")
    assert (refunded["data"]["amount"], refunded["data"]["refund_no"]) == (100, "F-1")


async def test_a_cancelled_activity_tells_those_signed_up_at_once(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    activity = await make_activity(
        session, world.station_x, world.organizer_x, starts_at=clock.now() + timedelta(days=2)
    )
    await sign_up_row(session, activity, world.volunteer_a)
    left = await sign_up_row(session, activity, world.volunteer_b)
    left.status = SignupStatus.cancelled
    await session.commit()
    cancelled = await client.post(
        f"/v1/activities/{activity.id}/cancel",
        json={"reason": "暴雨预警"},
        headers=world.auth["organizer_x"],
    )
    assert cancelled.status_code == 200, cancelled.text
    await run_once(app.state.db)

    [told] = await inbox(app, client, world)
    assert told["kind"] == "activity.cancelled"
    assert "暴雨预警" in told["body"]
    assert told["data"]["activity_id"] == str(activity.id)
    assert await inbox(app, client, world, "volunteer_b") == []


async def test_the_reminder_goes_an_hour_before_the_start_once(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, world: World, db: Reader
) -> None:
    soon = await make_activity(
        session, world.station_x, world.organizer_x, starts_at=clock.now() + timedelta(minutes=50)
    )
    later = await make_activity(
        session, world.station_x, world.organizer_x, starts_at=clock.now() + timedelta(hours=3)
    )
    for activity in (soon, later):
        await sign_up_row(session, activity, world.volunteer_a)
    await session.commit()

    await run_once(app.state.db)
    await run_once(app.state.db)
    [reminder] = await inbox(app, client, world)
    assert reminder["kind"] == "activity.reminder"
    assert reminder["data"]["activity_id"] == str(soon.id)

    with clock.travel(clock.now() + timedelta(hours=2, minutes=10)):
        await run_once(app.state.db)
    reminders = await db.all(select(Notification).where(Notification.kind == "activity.reminder"))
    assert sorted(str(n.data["activity_id"]) for n in reminders) == sorted(
        [str(soon.id), str(later.id)]
    )


async def test_rewards_about_to_expire_are_warned_once_thirty_days_ahead(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    # Lots issued in 2031 expire at the start of 2033 in Shanghai.
    with clock.travel(datetime(2031, 6, 1, 2, 0, tzinfo=UTC)):
        await fund(session, world.volunteer_a, 300)
        await fund(session, world.volunteer_a, 200)
    with clock.travel(datetime(2032, 11, 20, 2, 0, tzinfo=UTC)):
        await run_once(app.state.db)
        assert await inbox(app, client, world) == []
    with clock.travel(datetime(2032, 12, 5, 2, 0, tzinfo=UTC)):
        await run_once(app.state.db)
        await run_once(app.state.db)
        [warning] = await inbox(app, client, world)
    assert warning["kind"] == "rewards.expiring"
    assert warning["data"]["amount"] == 500
    assert "2032年12月31日" in warning["body"]


async def test_an_event_delivered_again_tells_nobody_twice(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, world: World, db: Reader
) -> None:
    activity = await past_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    await approve(client, world.auth["organizer_x"], record.id)
    await run_once(app.state.db)
    before = await db.count(Notification)
    async with app.state.db.sessions() as s, s.begin():
        await s.execute(update(OutboxEvent).values(processed_at=None))
    await run_once(app.state.db)
    assert await db.count(Notification) == before == 2
