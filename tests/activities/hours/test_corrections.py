"""Corrections: the volunteer who owns a record asks (one open request per record); an
organizer accepts (a new linked record replaces the old, which stays, superseded) or
refuses. Nothing is deleted and every step is in the audit trail."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours.models import HoursCorrection, HoursRecord, HoursStatus
from tests.activities.hours.support import (
    Reader,
    approve,
    assert_problem,
    audit_of,
    checkin_hours,
    corrections_of,
    events,
    hours_of,
    make_activity,
    set_daily_cap,
)


async def _ask(
    client: Any, auth: dict[str, str], record_id: Any, minutes: int = 90, reason: str = "漏记半小时"
) -> Any:
    return await client.post(
        f"/v1/hours/{record_id}/corrections",
        headers=auth,
        json={"minutes": minutes, "reason": reason},
    )


async def test_accepting_a_correction_of_approved_hours_replaces_them_approved(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=2)
    old = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    await approve(client, world.auth["organizer_x"], old.id)

    asked = await _ask(client, world.auth["volunteer_a"], old.id, minutes=90)
    assert asked.status_code == 201
    assert (asked.json()["status"], asked.json()["minutes"]) == ("open", 90)
    accepted = await client.post(
        f"/v1/hours/corrections/{asked.json()['id']}/accept", headers=world.auth["organizer_x"]
    )

    assert accepted.status_code == 200
    body = accepted.json()
    assert body["correction"]["status"] == "accepted"
    new = body["replacement"]
    assert body["correction"]["replacement_id"] == new["id"]
    assert (new["status"], new["minutes"], new["source"]) == ("approved", 90, "checkin")
    assert new["supersedes_id"] == str(old.id)
    assert new["attendance_id"] == str(old.attendance_id)
    records = {r.id: r for r in await hours_of(db, world.volunteer_a.id)}
    assert records[old.id].status == HoursStatus.superseded
    assert records[old.id].minutes == 60
    assert len(records) == 2
    sent = await events(db)
    assert [e.payload["hours_record_id"] for e in sent] == [str(old.id), new["id"]]
    assert sent[1].payload["supersedes_id"] == str(old.id)
    assert sent[1].payload["minutes"] == 90
    assert sent[1].payload["approved_by"] == str(world.organizer_x.id)
    assert [a.action for a in await audit_of(db, old.id)] == [
        "created",
        "approved",
        "correction_requested",
        "correction_accepted",
    ]
    [created] = await audit_of(db, uuid.UUID(new["id"]))
    assert (created.action, created.to_status, created.minutes) == ("created", "approved", 90)


async def test_accepting_a_correction_of_pending_hours_gives_a_pending_replacement(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    old = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    asked = await _ask(client, world.auth["volunteer_a"], old.id, minutes=30)

    accepted = await client.post(
        f"/v1/hours/corrections/{asked.json()['id']}/accept", headers=world.auth["station_admin_x"]
    )

    new = accepted.json()["replacement"]
    assert (new["status"], new["minutes"], new["decided_at"]) == ("pending", 30, None)
    assert await events(db) == []
    superseded = await client.post(f"/v1/hours/{old.id}/approve", headers=world.auth["organizer_x"])
    assert_problem(superseded, 409, "hours_superseded")
    await approve(client, world.auth["organizer_x"], uuid.UUID(new["id"]))
    [event] = await events(db)
    assert event.payload["supersedes_id"] == str(old.id)


async def test_the_replacement_can_itself_be_corrected_but_the_superseded_record_cannot(
    session: AsyncSession, client: Any, world: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=3)
    old = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    asked = await _ask(client, world.auth["volunteer_a"], old.id, minutes=90)
    accepted = await client.post(
        f"/v1/hours/corrections/{asked.json()['id']}/accept", headers=world.auth["organizer_x"]
    )
    replacement = accepted.json()["replacement"]["id"]

    on_old = await _ask(client, world.auth["volunteer_a"], old.id, minutes=120)
    on_new = await _ask(client, world.auth["volunteer_a"], replacement, minutes=120)

    assert_problem(on_old, 409, "hours_superseded")
    assert on_new.status_code == 201


async def test_one_open_correction_per_record(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)

    first = await _ask(client, world.auth["volunteer_a"], record.id, minutes=90)
    second = await _ask(client, world.auth["volunteer_a"], record.id, minutes=120)

    assert first.status_code == 201
    problem = assert_problem(second, 409, "hours_correction_already_open")
    assert problem["correction_id"] == first.json()["id"]
    assert len(await corrections_of(db, record.id)) == 1


async def test_refusing_keeps_the_record_and_allows_a_new_request(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    await approve(client, world.auth["organizer_x"], record.id)
    asked = await _ask(client, world.auth["volunteer_a"], record.id, minutes=120)
    correction_id = asked.json()["id"]

    refused = await client.post(
        f"/v1/hours/corrections/{correction_id}/refuse",
        headers=world.auth["organizer_x"],
        json={"reason": "签退时间为准"},
    )
    refused_again = await client.post(
        f"/v1/hours/corrections/{correction_id}/refuse",
        headers=world.auth["organizer_x"],
        json={"reason": "x"},
    )
    accepted_after = await client.post(
        f"/v1/hours/corrections/{correction_id}/accept", headers=world.auth["organizer_x"]
    )
    asked_again = await _ask(client, world.auth["volunteer_a"], record.id, minutes=90)

    assert refused.status_code == 200
    assert (refused.json()["status"], refused.json()["decision_reason"]) == (
        "refused",
        "签退时间为准",
    )
    assert_problem(refused_again, 409, "hours_correction_already_decided")
    assert_problem(accepted_after, 409, "hours_correction_already_decided")
    assert asked_again.status_code == 201
    [stored] = await hours_of(db, world.volunteer_a.id)
    assert (stored.status, stored.minutes) == (HoursStatus.approved, 60)
    assert len(await events(db)) == 1
    trail = [(a.action, a.reason) for a in await audit_of(db, record.id)]
    assert ("correction_refused", "签退时间为准") in trail


async def test_the_open_correction_shows_in_the_listings(
    session: AsyncSession, client: Any, world: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    asked = await _ask(client, world.auth["volunteer_a"], record.id, minutes=90)

    staff_view = await client.get("/v1/hours", headers=world.auth["organizer_x"])
    own_view = await client.get("/v1/me/hours", headers=world.auth["volunteer_a"])
    detail = await client.get(f"/v1/hours/{record.id}", headers=world.auth["organizer_x"])

    assert staff_view.json()["items"][0]["open_correction"]["id"] == asked.json()["id"]
    assert own_view.json()["items"][0]["open_correction"]["minutes"] == 90
    assert [c["id"] for c in detail.json()["corrections"]] == [asked.json()["id"]]


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("volunteer_b", 404, "hours_record_not_found"),
        ("other_volunteer", 404, "hours_record_not_found"),
        ("organizer_x", 403, "forbidden"),
    ],
)
async def test_only_the_owner_may_ask_for_a_correction(
    session: AsyncSession, client: Any, world: Any, db: Reader, who: str, status: int, code: str
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)

    response = await _ask(client, world.auth[who], record.id)

    assert_problem(response, status, code)
    assert await db.count(HoursCorrection) == 0


async def test_rejected_hours_cannot_be_corrected(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    await client.post(
        f"/v1/hours/{record.id}/reject", headers=world.auth["organizer_x"], json={"reason": "缺席"}
    )

    response = await _ask(client, world.auth["volunteer_a"], record.id)

    assert_problem(response, 409, "hours_not_correctable")
    assert await db.count(HoursCorrection) == 0


@pytest.mark.parametrize(
    ("minutes", "status", "code"),
    [
        (60, 422, "hours_correction_unchanged"),
        (121, 422, "hours_over_activity_cap"),
        (0, 422, "validation_failed"),
    ],
)
async def test_a_correction_must_change_the_minutes_within_the_activitys_cap(
    session: AsyncSession,
    client: Any,
    world: Any,
    db: Reader,
    minutes: int,
    status: int,
    code: str,
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=2)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)

    response = await _ask(client, world.auth["volunteer_a"], record.id, minutes=minutes)

    assert_problem(response, status, code)
    assert await db.count(HoursCorrection) == 0


async def test_a_correction_counts_the_day_without_the_record_it_replaces(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    await set_daily_cap(session, world.region.id, 150)
    first = await make_activity(session, world.station_x, world.organizer_x, hours=2)
    second = await make_activity(session, world.station_x, world.organizer_x, hours=2)
    record = await checkin_hours(session, first, world.volunteer_a, minutes=60)
    await checkin_hours(session, second, world.volunteer_a, minutes=60)

    fits = await _ask(client, world.auth["volunteer_a"], record.id, minutes=90)
    await client.post(
        f"/v1/hours/corrections/{fits.json()['id']}/refuse",
        headers=world.auth["organizer_x"],
        json={"reason": "x"},
    )
    over = await _ask(client, world.auth["volunteer_a"], record.id, minutes=120)

    assert fits.status_code == 201
    assert_problem(over, 422, "hours_over_daily_cap")


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("organizer_y", 403, "not_permitted_on_unit"),
        ("other_admin", 404, "hours_correction_not_found"),
        ("volunteer_a", 403, "forbidden"),
    ],
)
async def test_only_staff_who_reach_the_activity_decide_corrections(
    session: AsyncSession, client: Any, world: Any, db: Reader, who: str, status: int, code: str
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    asked = await _ask(client, world.auth["volunteer_a"], record.id)
    correction_id = asked.json()["id"]

    accepted = await client.post(
        f"/v1/hours/corrections/{correction_id}/accept", headers=world.auth[who]
    )
    refused = await client.post(
        f"/v1/hours/corrections/{correction_id}/refuse",
        headers=world.auth[who],
        json={"reason": "x"},
    )

    assert_problem(accepted, status, code)
    assert_problem(refused, status, code)
    [correction] = await corrections_of(db, record.id)
    assert correction.status == "open"
    assert await db.count(HoursRecord) == 1


async def test_unknown_correction_is_not_found(client: Any, world: Any) -> None:
    response = await client.post(
        f"/v1/hours/corrections/{uuid.uuid4()}/accept", headers=world.auth["organizer_x"]
    )

    assert_problem(response, 404, "hours_correction_not_found")
