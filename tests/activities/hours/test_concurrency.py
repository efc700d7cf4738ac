"""Hours decisions under real parallel PostgreSQL connections: one approval, one event."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours.models import HoursCorrection, HoursRecord, HoursStatus
from tests.activities.hours.support import (
    Reader,
    approve,
    audit_of,
    checkin_hours,
    events,
    hours_of,
    make_activity,
)

pytestmark = pytest.mark.postgres_only


async def test_twenty_concurrent_approvals_of_one_record_approve_it_once(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    db = Reader(app)
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a)
    deciders = ["organizer_x", "station_admin_x", "institute_admin_x", "center_admin"]

    responses = await asyncio.gather(
        *(
            client.post(f"/v1/hours/{record.id}/approve", headers=world.auth[deciders[i % 4]])
            for i in range(20)
        )
    )

    outcomes = Counter(
        (r.status_code, r.json().get("code") or r.json().get("status")) for r in responses
    )
    assert outcomes == {(200, "approved"): 1, (409, "hours_already_decided"): 19}
    stored = await db.get(HoursRecord, record.id)
    assert stored is not None
    assert stored.status == HoursStatus.approved
    assert len(await events(db)) == 1
    assert [a.action for a in await audit_of(db, record.id)] == ["created", "approved"]


async def test_concurrent_correction_requests_leave_one_open(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    db = Reader(app)
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=4)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)

    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/hours/{record.id}/corrections",
                headers=world.auth["volunteer_a"],
                json={"minutes": 61 + i, "reason": "漏记"},
            )
            for i in range(10)
        )
    )

    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1, 409: 9}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "hours_correction_already_open"
    }
    assert await db.count(HoursCorrection) == 1


async def test_concurrent_acceptances_of_one_correction_replace_the_record_once(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    db = Reader(app)
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    await approve(client, world.auth["organizer_x"], record.id)
    asked = await client.post(
        f"/v1/hours/{record.id}/corrections",
        headers=world.auth["volunteer_a"],
        json={"minutes": 90, "reason": "漏记"},
    )

    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/hours/corrections/{asked.json()['id']}/accept",
                headers=world.auth["organizer_x"],
            )
            for _ in range(10)
        )
    )

    assert Counter(r.status_code for r in responses) == {200: 1, 409: 9}
    assert [r.minutes for r in await hours_of(db, world.volunteer_a.id)] == [60, 90]
    assert len(await events(db)) == 2


async def test_concurrent_bulk_credits_credit_each_volunteer_once(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    db = Reader(app)
    activity = await make_activity(session, world.station_x, world.organizer_x)
    volunteers = [str(world.volunteer_a.id), str(world.volunteer_b.id)]

    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/activities/{activity.id}/bulk-credit",
                headers=world.auth["organizer_x"],
                json={
                    "volunteer_ids": volunteers if i % 2 else list(reversed(volunteers)),
                    "minutes": 60,
                    "reason": "补记",
                },
            )
            for i in range(10)
        )
    )

    assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}
    assert await db.count(HoursRecord) == 2


async def test_overlapping_bulk_approvals_approve_each_record_once(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    db = Reader(app)
    activity = await make_activity(session, world.station_x, world.organizer_x)
    ids = [
        str((await checkin_hours(session, activity, volunteer)).id)
        for volunteer in (world.volunteer_a, world.volunteer_b)
    ]

    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/hours/bulk-decisions",
                headers=world.auth["organizer_x"],
                json={"ids": ids if i % 2 else list(reversed(ids)), "decision": "approve"},
            )
            for i in range(8)
        )
    )

    assert {r.status_code for r in responses} == {200}
    assert sum(r.json()["succeeded"] for r in responses) == 2
    assert sorted(e.payload["hours_record_id"] for e in await events(db)) == sorted(ids)
