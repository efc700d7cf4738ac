"""The inbox: what reaches a volunteer, newest first, with the unread count; marking
read; preferences; and a cause told once however often it is delivered."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.notifications.kinds import NotificationKind
from app.notifications.models import Notification, NotificationTemplate, WeChatSend
from app.notifications.quiet import quiet_until
from app.notifications.service import notify
from tests.builders import World
from tests.orgs.support import Reader


@pytest.fixture
def db(app: Any) -> Reader:
    return Reader(app)


async def tell(
    session: AsyncSession,
    world: World,
    key: str,
    *,
    people: list[uuid.UUID] | None = None,
    kind: NotificationKind = NotificationKind.hours_approved,
) -> int:
    told = await notify(
        session,
        region_id=world.region.id,
        volunteer_ids=people or [world.volunteer_a.id],
        kind=kind,
        key=key,
        title=f"通知 {key}",
        body="内容",
        data={"activity_title": key},
    )
    await session.commit()
    return told


async def test_the_inbox_lists_newest_first_in_pages_with_the_unread_count(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    for i in range(5):
        with clock.travel(datetime(2031, 5, 6, 2, i, tzinfo=UTC)):
            await tell(session, world, f"k{i}")
    await tell(session, world, "b", people=[world.volunteer_b.id])
    auth = world.auth["volunteer_a"]

    first = await client.get("/v1/me/notifications", params={"limit": 3}, headers=auth)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [n["title"] for n in body["items"]] == ["通知 k4", "通知 k3", "通知 k2"]
    assert body["unread_count"] == 5
    assert body["items"][0]["kind"] == "hours.approved"
    assert body["items"][0]["read_at"] is None
    rest = await client.get(
        "/v1/me/notifications", params={"limit": 3, "cursor": body["next_cursor"]}, headers=auth
    )
    assert [n["title"] for n in rest.json()["items"]] == ["通知 k1", "通知 k0"]
    assert rest.json()["next_cursor"] is None


async def test_marking_read_one_then_all(
    client: httpx.AsyncClient, session: AsyncSession, world: World, db: Reader
) -> None:
    for key in ("x", "y", "z"):
        await tell(session, world, key)
    await tell(session, world, "b", people=[world.volunteer_b.id])
    auth = world.auth["volunteer_a"]
    items = (await client.get("/v1/me/notifications", headers=auth)).json()["items"]

    read = await client.post(f"/v1/me/notifications/{items[0]['id']}/read", headers=auth)
    assert read.status_code == 200
    assert read.json()["read_at"] is not None
    again = await client.post(f"/v1/me/notifications/{items[0]['id']}/read", headers=auth)
    assert again.json()["read_at"] == read.json()["read_at"]
    unread = await client.get("/v1/me/notifications", params={"unread": "true"}, headers=auth)
    assert [n["id"] for n in unread.json()["items"]] == [items[1]["id"], items[2]["id"]]
    assert unread.json()["unread_count"] == 2

    everything = await client.post("/v1/me/notifications/read-all", headers=auth)
    assert everything.json() == {"marked": 2, "unread_count": 0}
    assert (await client.get("/v1/me/notifications", headers=auth)).json()["unread_count"] == 0
    # B's stays unread.
    assert await db.count(Notification, Notification.read_at.is_(None)) == 1


async def test_another_persons_notification_does_not_exist_for_you(
    client: httpx.AsyncClient, session: AsyncSession, world: World, db: Reader
) -> None:
    await tell(session, world, "mine")
    [own] = await db.all(select(Notification))
    for who in ("volunteer_b", "other_volunteer"):
        theirs = await client.post(f"/v1/me/notifications/{own.id}/read", headers=world.auth[who])
        nowhere = await client.post(
            f"/v1/me/notifications/{uuid.uuid4()}/read", headers=world.auth[who]
        )
        assert theirs.status_code == nowhere.status_code == 404
        assert theirs.json()["code"] == nowhere.json()["code"] == "notification_not_found"
    assert (await db.get(Notification, own.id)).read_at is None


async def test_a_cause_told_twice_tells_each_person_once(
    session: AsyncSession, world: World, db: Reader
) -> None:
    people = [world.volunteer_a.id, world.volunteer_b.id, world.volunteer_a.id]
    assert await tell(session, world, "event:1", people=people) == 2
    assert await tell(session, world, "event:1", people=people) == 0
    # The same key of another kind is another cause.
    assert await tell(session, world, "event:1", kind=NotificationKind.rewards_received) == 1
    assert await db.count(Notification) == 3


@pytest.mark.postgres_only
async def test_two_workers_telling_the_same_cause_at_once_tell_each_person_once(
    app: Any, world: World, db: Reader
) -> None:
    people = [world.volunteer_a.id, world.volunteer_b.id]

    async def worker() -> int:
        async with app.state.db.sessions() as s, s.begin():
            return await notify(
                s,
                region_id=world.region.id,
                volunteer_ids=people,
                kind=NotificationKind.emergency_callout,
                key="alert:1",
                title="紧急集结",
                body="",
                data={},
            )

    told = await asyncio.gather(*(worker() for _ in range(8)))
    assert sum(told) == 2
    assert await db.count(Notification) == 2


async def test_preferences_default_to_everything_with_quiet_hours_and_can_be_set(
    client: httpx.AsyncClient, world: World
) -> None:
    auth = world.auth["volunteer_a"]
    start = await client.get("/v1/me/notification-preferences", headers=auth)
    assert start.json() == {"muted_kinds": [], "quiet_hours": True}
    body = {"muted_kinds": ["activity.reminder", "rewards.expiring"], "quiet_hours": False}
    put = await client.put("/v1/me/notification-preferences", json=body, headers=auth)
    assert put.status_code == 200, put.text
    assert put.json() == body
    assert (await client.get("/v1/me/notification-preferences", headers=auth)).json() == body
    other = await client.get("/v1/me/notification-preferences", headers=world.auth["volunteer_b"])
    assert other.json() == {"muted_kinds": [], "quiet_hours": True}


@pytest.mark.parametrize(
    ("muted", "code"),
    [
        (["emergency.callout"], "notification_kind_not_mutable"),
        (["no.such.kind"], "validation_failed"),
    ],
)
async def test_emergencies_and_unknown_kinds_cannot_be_muted(
    client: httpx.AsyncClient, world: World, muted: list[str], code: str
) -> None:
    auth = world.auth["volunteer_a"]
    refused = await client.put(
        "/v1/me/notification-preferences",
        json={"muted_kinds": muted, "quiet_hours": True},
        headers=auth,
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == code
    kept = await client.get("/v1/me/notification-preferences", headers=auth)
    assert kept.json() == {"muted_kinds": [], "quiet_hours": True}


def test_quiet_hours_run_from_ten_at_night_to_seven_in_the_regions_time() -> None:
    shanghai = "Asia/Shanghai"
    # 21:59 and 07:00 in Shanghai are not quiet; 22:00, 02:00 and 06:59 are.
    assert quiet_until(datetime(2031, 5, 6, 13, 59, tzinfo=UTC), shanghai) is None
    assert quiet_until(datetime(2031, 5, 6, 23, 0, tzinfo=UTC), shanghai) is None
    seven = datetime(2031, 5, 6, 23, 0, tzinfo=UTC)
    for at in (
        datetime(2031, 5, 6, 14, 0, tzinfo=UTC),
        datetime(2031, 5, 6, 18, 0, tzinfo=UTC),
        datetime(2031, 5, 6, 22, 59, tzinfo=UTC),
    ):
        assert quiet_until(at, shanghai) == seven
    # Another region's zone is its own.
    assert quiet_until(datetime(2031, 5, 6, 13, 59, tzinfo=UTC), "Asia/Urumqi") is None


async def _template(session: AsyncSession, world: World, kind: NotificationKind) -> None:
    session.add(
        NotificationTemplate(
            region_id=world.region.id,
            kind=str(kind),
            template_id=f"tmpl-{kind}",
            fields={"thing1": "activity_title"},
            page="pages/index",
            created_by=world.center_admin.id,
        )
    )
    await session.commit()


async def _credit(session: AsyncSession, world: World, volunteer: Any, kind: str) -> None:
    from app.notifications.models import NotificationConsent

    session.add(
        NotificationConsent(
            volunteer_id=volunteer.id,
            template_id=f"tmpl-{kind}",
            region_id=world.region.id,
            credits=1,
        )
    )
    await session.commit()


async def test_a_send_is_queued_for_credit_holders_held_in_quiet_hours_unless_urgent(
    client: httpx.AsyncClient, session: AsyncSession, world: World, db: Reader
) -> None:
    for kind in (NotificationKind.hours_approved, NotificationKind.emergency_callout):
        await _template(session, world, kind)
        await _credit(session, world, world.volunteer_a, str(kind))
    late = datetime(2031, 5, 6, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    with clock.travel(late):
        await tell(session, world, "q", people=[world.volunteer_a.id, world.volunteer_b.id])
        await tell(
            session,
            world,
            "e",
            people=[world.volunteer_a.id, world.volunteer_b.id],
            kind=NotificationKind.emergency_callout,
        )
    sends = {s.template_id: s for s in await db.all(select(WeChatSend))}
    # B holds no credit: the inbox is all B gets.
    assert {s.volunteer_id for s in sends.values()} == {world.volunteer_a.id}
    held = sends["tmpl-hours.approved"]
    assert held.available_at == datetime(2031, 5, 6, 23, 0, tzinfo=UTC)
    assert not held.emergency
    urgent = sends["tmpl-emergency.callout"]
    assert late <= urgent.available_at < late + timedelta(minutes=1)
    assert urgent.emergency
    assert await db.count(Notification) == 4


async def test_a_muted_kind_or_quiet_hours_off_changes_the_push_not_the_inbox(
    client: httpx.AsyncClient, session: AsyncSession, world: World, db: Reader
) -> None:
    await _template(session, world, NotificationKind.hours_approved)
    for volunteer in (world.volunteer_a, world.volunteer_b):
        await _credit(session, world, volunteer, "hours.approved")
    await client.put(
        "/v1/me/notification-preferences",
        json={"muted_kinds": ["hours.approved"], "quiet_hours": True},
        headers=world.auth["volunteer_a"],
    )
    await client.put(
        "/v1/me/notification-preferences",
        json={"muted_kinds": [], "quiet_hours": False},
        headers=world.auth["volunteer_b"],
    )
    late = datetime(2031, 5, 6, 15, 30, tzinfo=UTC)
    with clock.travel(late):
        await tell(session, world, "m", people=[world.volunteer_a.id, world.volunteer_b.id])
    [send] = await db.all(select(WeChatSend))
    assert send.volunteer_id == world.volunteer_b.id
    assert late <= send.available_at < late + timedelta(minutes=1)
    assert await db.count(Notification) == 2
