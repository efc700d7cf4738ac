"""Two people for hours (DESIGN.md §2.12): whoever entered hours cannot approve them,
singly or in bulk, and cannot accept a correction of them; check-in hours have no
human author, and a correction's minutes are the asking volunteer's."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours.models import HoursRecord, HoursStatus
from tests.activities.hours.support import (
    Reader,
    approve,
    assert_problem,
    audit_of,
    checkin_hours,
    events,
    make_activity,
)


async def _makeup(client: Any, world: Any, who: str, activity_id: uuid.UUID, minutes: int) -> str:
    response = await client.post(
        "/v1/hours/makeup",
        headers={**world.auth[who], "Idempotency-Key": uuid.uuid4().hex},
        json={
            "volunteer_id": str(world.volunteer_a.id),
            "activity_id": str(activity_id),
            "minutes": minutes,
            "reason": "手机没电，未能签到",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_whoever_entered_makeup_hours_cannot_approve_them(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record_id = await _makeup(client, world, "organizer_x", activity.id, 60)

    own = await client.post(f"/v1/hours/{record_id}/approve", headers=world.auth["organizer_x"])

    assert_problem(own, 403, "own_entry_approval")
    stored = await db.get(HoursRecord, uuid.UUID(record_id))
    assert (stored.status, stored.decided_by_id) == (HoursStatus.pending, None)
    assert await events(db) == []
    assert [a.action for a in await audit_of(db, stored.id)] == ["created"]

    body = await approve(client, world.auth["station_admin_x"], uuid.UUID(record_id))
    assert (body["status"], body["decided_by_id"]) == ("approved", str(world.station_admin_x.id))
    assert len(await events(db)) == 1


async def test_whoever_entered_hours_may_still_reject_them(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record_id = await _makeup(client, world, "organizer_x", activity.id, 60)

    response = await client.post(
        f"/v1/hours/{record_id}/reject",
        headers=world.auth["organizer_x"],
        json={"reason": "录错了人"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected"


async def test_a_bulk_credit_is_approved_by_someone_else_than_its_author(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    credited = await client.post(
        f"/v1/activities/{activity.id}/bulk-credit",
        headers=world.auth["station_admin_x"],
        json={"volunteer_ids": [str(world.volunteer_a.id)], "minutes": 60, "reason": "按名单补记"},
    )
    [item] = credited.json()["items"]

    own = await client.post(
        f"/v1/hours/{item['id']}/approve", headers=world.auth["station_admin_x"]
    )

    assert_problem(own, 403, "own_entry_approval")
    await approve(client, world.auth["organizer_x"], uuid.UUID(item["id"]))


async def test_check_in_hours_have_no_author_and_any_reaching_staff_approves_them(
    session: AsyncSession, client: Any, world: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a)

    body = await approve(client, world.auth["organizer_x"], record.id)

    assert (body["created_by_kind"], body["created_by_id"]) == ("system", None)


async def test_bulk_decisions_refuse_the_callers_own_entries_record_by_record(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=4)
    own = await _makeup(client, world, "organizer_x", activity.id, 30)
    others = await _makeup(client, world, "station_admin_x", activity.id, 30)
    checkin = await checkin_hours(session, activity, world.volunteer_b)

    response = await client.post(
        "/v1/hours/bulk-decisions",
        headers=world.auth["organizer_x"],
        json={"ids": [own, others, str(checkin.id)], "decision": "approve"},
    )

    assert response.status_code == 200
    body = response.json()
    assert [(r["id"], r["ok"], r["status"], r["code"]) for r in body["results"]] == [
        (own, False, None, "own_entry_approval"),
        (others, True, "approved", None),
        (str(checkin.id), True, "approved", None),
    ]
    assert (body["succeeded"], body["failed"]) == (2, 1)
    stored = await db.get(HoursRecord, uuid.UUID(own))
    assert stored.status == HoursStatus.pending
    assert {e.payload["hours_record_id"] for e in await events(db)} == {others, str(checkin.id)}


async def test_a_bulk_rejection_of_ones_own_entries_goes_through(
    session: AsyncSession, client: Any, world: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    own = await _makeup(client, world, "organizer_x", activity.id, 30)

    response = await client.post(
        "/v1/hours/bulk-decisions",
        headers=world.auth["organizer_x"],
        json={"ids": [own], "decision": "reject", "reason": "重复录入"},
    )

    assert [(r["ok"], r["status"]) for r in response.json()["results"]] == [(True, "rejected")]


async def _ask(client: Any, world: Any, record_id: str, minutes: int) -> str:
    asked = await client.post(
        f"/v1/hours/{record_id}/corrections",
        headers=world.auth["volunteer_a"],
        json={"minutes": minutes, "reason": "实际服务更久"},
    )
    assert asked.status_code == 201, asked.text
    return str(asked.json()["id"])


async def test_the_author_of_approved_makeup_cannot_raise_it_through_a_correction(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=4)
    record_id = await _makeup(client, world, "organizer_x", activity.id, 30)
    await approve(client, world.auth["station_admin_x"], uuid.UUID(record_id))
    correction_id = await _ask(client, world, record_id, 240)

    own = await client.post(
        f"/v1/hours/corrections/{correction_id}/accept", headers=world.auth["organizer_x"]
    )

    assert_problem(own, 403, "own_entry_approval")
    stored = await db.get(HoursRecord, uuid.UUID(record_id))
    assert (stored.status, stored.minutes) == (HoursStatus.approved, 30)
    assert len(await events(db)) == 1

    accepted = await client.post(
        f"/v1/hours/corrections/{correction_id}/accept", headers=world.auth["center_admin"]
    )
    assert accepted.status_code == 200, accepted.text
    replacement = accepted.json()["replacement"]
    assert (replacement["status"], replacement["minutes"]) == ("approved", 240)
    # The volunteer asked for these minutes; the accepting admin decided them.
    assert (replacement["created_by_kind"], replacement["created_by_id"]) == (
        "volunteer",
        str(world.volunteer_a.id),
    )
    assert replacement["decided_by_id"] == str(world.center_admin.id)


async def test_the_author_of_a_chain_cannot_accept_a_correction_of_its_replacement(
    session: AsyncSession, client: Any, world: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=4)
    record_id = await _makeup(client, world, "organizer_x", activity.id, 30)
    first = await client.post(
        f"/v1/hours/corrections/{await _ask(client, world, record_id, 60)}/accept",
        headers=world.auth["station_admin_x"],
    )
    replacement_id = first.json()["replacement"]["id"]

    second = await client.post(
        f"/v1/hours/corrections/{await _ask(client, world, replacement_id, 240)}/accept",
        headers=world.auth["organizer_x"],
    )

    assert_problem(second, 403, "own_entry_approval")


async def test_a_pending_replacement_is_approved_by_anyone_reaching_it_but_its_asker(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    accepted = await client.post(
        f"/v1/hours/corrections/{await _ask(client, world, str(record.id), 90)}/accept",
        headers=world.auth["organizer_x"],
    )
    replacement = accepted.json()["replacement"]
    assert replacement["status"] == "pending"

    body = await approve(client, world.auth["organizer_x"], uuid.UUID(replacement["id"]))

    assert body["status"] == "approved"
    [event] = await events(db)
    assert event.payload["supersedes_id"] == str(record.id)
