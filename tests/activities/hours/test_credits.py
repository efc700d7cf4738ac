"""Make-up hours (staff, with a reason, capped at the activity's duration) and bulk credits
(finished activities, one per volunteer per activity, all or nothing)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours.models import HoursRecord, HoursSource
from app.activities.models import ActivityStatus
from app.core import clock
from app.core.models import IdempotencyRecord
from tests.activities.hours.support import (
    SHANGHAI,
    Reader,
    approve,
    assert_problem,
    audit_of,
    checkin_hours,
    events,
    hours_of,
    make_activity,
    set_daily_cap,
)


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def _makeup(
    client: Any, auth: dict[str, str], body: dict[str, Any], key: dict[str, str] | None = None
) -> Any:
    return await client.post("/v1/hours/makeup", headers={**auth, **(key or _key())}, json=body)


async def test_staff_add_pending_makeup_hours_with_a_reason(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=3)
    body = {
        "volunteer_id": str(world.volunteer_a.id),
        "activity_id": str(activity.id),
        "minutes": 150,
        "reason": "手机没电，未能签到",
    }

    response = await _makeup(client, world.auth["organizer_x"], body)

    assert response.status_code == 201
    created = response.json()
    assert (created["source"], created["status"], created["minutes"]) == ("makeup", "pending", 150)
    assert created["reason"] == "手机没电，未能签到"
    assert created["created_by_kind"] == "staff"
    assert created["created_by_id"] == str(world.organizer_x.id)
    assert created["service_date"] == activity.starts_at.astimezone(SHANGHAI).date().isoformat()
    [stored] = await hours_of(db, world.volunteer_a.id)
    assert stored.attendance_id is None
    [created_audit] = await audit_of(db, stored.id)
    assert (created_audit.action, created_audit.actor_id) == ("created", world.organizer_x.id)
    assert created_audit.reason == "手机没电，未能签到"


async def test_approved_makeup_hours_are_announced_with_their_source(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    response = await _makeup(
        client,
        world.auth["organizer_x"],
        {
            "volunteer_id": str(world.volunteer_a.id),
            "activity_id": str(activity.id),
            "minutes": 60,
            "reason": "补录",
        },
    )

    await approve(client, world.auth["station_admin_x"], response.json()["id"])

    [event] = await events(db)
    assert (event.payload["source"], event.payload["minutes"]) == ("makeup", 60)


async def test_makeup_is_idempotent_under_its_key(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    body = {
        "volunteer_id": str(world.volunteer_a.id),
        "activity_id": str(activity.id),
        "minutes": 30,
        "reason": "补录",
    }
    key = _key()

    first = await _makeup(client, world.auth["organizer_x"], body, key)
    replay = await _makeup(client, world.auth["organizer_x"], body, key)
    reused = await _makeup(client, world.auth["organizer_x"], {**body, "minutes": 40}, key)
    missing = await client.post("/v1/hours/makeup", headers=world.auth["organizer_x"], json=body)

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert_problem(reused, 422, "idempotency_key_reused")
    assert_problem(missing, 400, "idempotency_key_missing")
    assert len(await hours_of(db, world.volunteer_a.id)) == 1


async def test_makeup_is_capped_at_the_activity_duration_counting_other_credits(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=2)
    await checkin_hours(session, activity, world.volunteer_a, minutes=90)
    body = {
        "volunteer_id": str(world.volunteer_a.id),
        "activity_id": str(activity.id),
        "reason": "补录",
    }

    over = await _makeup(client, world.auth["organizer_x"], {**body, "minutes": 60})
    fits = await _makeup(client, world.auth["organizer_x"], {**body, "minutes": 30})
    alone_over = await _makeup(
        client,
        world.auth["organizer_x"],
        {**body, "volunteer_id": str(world.volunteer_b.id), "minutes": 121},
    )

    problem = assert_problem(over, 422, "hours_over_activity_cap")
    assert (problem["cap_minutes"], problem["credited_minutes"]) == (120, 90)
    assert fits.status_code == 201
    assert_problem(alone_over, 422, "hours_over_activity_cap")
    assert [r.minutes for r in await hours_of(db, world.volunteer_a.id)] == [90, 30]
    assert await hours_of(db, world.volunteer_b.id) == []


async def test_makeup_respects_the_regions_daily_cap(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    await set_daily_cap(session, world.region.id, 120)
    morning = await make_activity(session, world.station_x, world.organizer_x, hours=2)
    afternoon = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        starts_at=morning.starts_at + timedelta(hours=4),
        hours=2,
    )
    await checkin_hours(session, morning, world.volunteer_a, minutes=90)

    response = await _makeup(
        client,
        world.auth["organizer_x"],
        {
            "volunteer_id": str(world.volunteer_a.id),
            "activity_id": str(afternoon.id),
            "minutes": 60,
            "reason": "补录",
        },
    )

    problem = assert_problem(response, 422, "hours_over_daily_cap")
    assert (problem["cap_minutes"], problem["credited_minutes"]) == (120, 90)
    assert len(await hours_of(db, world.volunteer_a.id)) == 1


@pytest.mark.parametrize(
    ("status", "starts_in"),
    [
        (ActivityStatus.cancelled, timedelta(days=-3)),
        (ActivityStatus.draft, timedelta(days=-3)),
        (ActivityStatus.published, timedelta(days=2)),
    ],
)
async def test_makeup_needs_an_activity_that_took_place(
    session: AsyncSession,
    client: Any,
    world: Any,
    db: Reader,
    status: ActivityStatus,
    starts_in: timedelta,
) -> None:
    activity = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        status=status,
        starts_at=clock.now() + starts_in,
    )

    response = await _makeup(
        client,
        world.auth["organizer_x"],
        {
            "volunteer_id": str(world.volunteer_a.id),
            "activity_id": str(activity.id),
            "minutes": 30,
            "reason": "补录",
        },
    )

    assert_problem(response, 409, "hours_activity_not_held")
    assert await hours_of(db, world.volunteer_a.id) == []


@pytest.mark.parametrize(
    ("who", "volunteer", "activity", "status", "code"),
    [
        ("organizer_x", "other_volunteer", "x", 404, "hours_volunteer_not_found"),
        ("organizer_x", "unknown", "x", 404, "hours_volunteer_not_found"),
        ("organizer_x", "volunteer_a", "unknown", 404, "activity_not_found"),
        ("organizer_y", "volunteer_a", "x", 403, "not_permitted_on_unit"),
        ("other_admin", "volunteer_a", "x", 404, "activity_not_found"),
        ("volunteer_a", "volunteer_a", "x", 403, "forbidden"),
    ],
)
async def test_makeup_refusals_change_nothing(
    session: AsyncSession,
    client: Any,
    world: Any,
    db: Reader,
    who: str,
    volunteer: str,
    activity: str,
    status: int,
    code: str,
) -> None:
    held = await make_activity(session, world.station_x, world.organizer_x)
    volunteer_id = uuid.uuid4() if volunteer == "unknown" else getattr(world, volunteer).id
    activity_id = uuid.uuid4() if activity == "unknown" else held.id

    response = await _makeup(
        client,
        world.auth[who],
        {
            "volunteer_id": str(volunteer_id),
            "activity_id": str(activity_id),
            "minutes": 30,
            "reason": "补录",
        },
    )

    assert_problem(response, status, code)
    assert await db.count(HoursRecord) == 0
    assert await db.count(IdempotencyRecord) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"minutes": 0},
        {"minutes": 24 * 60 + 1},
        {"minutes": "sixty"},
        {"reason": ""},
        {"reason": "x" * 501},
        {"volunteer_id": "v-1"},
        {"note": "extra"},
    ],
)
async def test_makeup_input_is_validated(
    session: AsyncSession, client: Any, world: Any, db: Reader, change: dict[str, Any]
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    body = {
        "volunteer_id": str(world.volunteer_a.id),
        "activity_id": str(activity.id),
        "minutes": 30,
        "reason": "补录",
        **change,
    }

    response = await _makeup(client, world.auth["organizer_x"], body)

    assert_problem(response, 422, "validation_failed")
    assert await db.count(HoursRecord) == 0


# Bulk credit


async def _bulk(
    client: Any, auth: dict[str, str], activity_id: uuid.UUID, body: dict[str, Any]
) -> Any:
    return await client.post(f"/v1/activities/{activity_id}/bulk-credit", headers=auth, json=body)


async def test_organizer_bulk_credits_volunteers_of_a_finished_activity(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=3)

    response = await _bulk(
        client,
        world.auth["organizer_x"],
        activity.id,
        {
            "volunteer_ids": [str(world.volunteer_a.id), str(world.volunteer_b.id)],
            "minutes": 180,
            "reason": "现场签到设备故障，按名单补记",
        },
    )

    assert response.status_code == 201
    items = response.json()["items"]
    assert [(i["volunteer_id"], i["source"], i["status"], i["minutes"]) for i in items] == [
        (str(world.volunteer_a.id), "bulk", "pending", 180),
        (str(world.volunteer_b.id), "bulk", "pending", 180),
    ]
    # Approved by someone else than the organizer who entered them (two people).
    await approve(client, world.auth["station_admin_x"], items[0]["id"])
    [event] = await events(db)
    assert event.payload["source"] == HoursSource.bulk


async def test_bulk_credit_waits_for_the_activity_to_finish(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(
        session, world.station_x, world.organizer_x, status=ActivityStatus.published
    )

    response = await _bulk(
        client,
        world.auth["organizer_x"],
        activity.id,
        {"volunteer_ids": [str(world.volunteer_a.id)], "minutes": 60, "reason": "补记"},
    )

    assert_problem(response, 409, "hours_activity_not_finished")
    assert await db.count(HoursRecord) == 0


async def test_bulk_credit_is_once_per_volunteer_per_activity_and_all_or_nothing(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    checked_in = await checkin_hours(session, activity, world.volunteer_b, minutes=60)
    body = {"minutes": 60, "reason": "补记"}

    first = await _bulk(
        client,
        world.auth["organizer_x"],
        activity.id,
        {**body, "volunteer_ids": [str(world.volunteer_a.id)]},
    )
    again = await _bulk(
        client,
        world.auth["organizer_x"],
        activity.id,
        {**body, "volunteer_ids": [str(world.volunteer_a.id)]},
    )
    with_checked_in = await _bulk(
        client,
        world.auth["center_admin"],
        activity.id,
        {**body, "volunteer_ids": [str(world.volunteer_b.id)]},
    )

    assert first.status_code == 201
    assert_problem(again, 409, "hours_already_credited")
    problem = assert_problem(with_checked_in, 409, "hours_already_credited")
    assert problem["volunteer_ids"] == [str(world.volunteer_b.id)]
    assert [r.id for r in await hours_of(db, world.volunteer_b.id)] == [checked_in.id]
    # A rejected bulk credit is still the one bulk credit of that volunteer there.
    await client.post(
        f"/v1/hours/{first.json()['items'][0]['id']}/reject",
        headers=world.auth["organizer_x"],
        json={"reason": "名单有误"},
    )
    after_rejection = await _bulk(
        client,
        world.auth["organizer_x"],
        activity.id,
        {**body, "volunteer_ids": [str(world.volunteer_a.id)]},
    )
    assert_problem(after_rejection, 409, "hours_already_credited")
    assert len(await hours_of(db, world.volunteer_a.id)) == 1


@pytest.mark.parametrize(
    ("who", "volunteers", "minutes", "status", "code"),
    [
        ("organizer_x", ["volunteer_a", "other_volunteer"], 60, 404, "hours_volunteer_not_found"),
        ("organizer_x", ["volunteer_a"], 121, 422, "hours_over_activity_cap"),
        ("organizer_x", ["volunteer_a", "volunteer_a"], 60, 422, "validation_failed"),
        ("organizer_x", [], 60, 422, "validation_failed"),
        ("organizer_x", ["volunteer_a"], 0, 422, "validation_failed"),
        ("organizer_y", ["volunteer_a"], 60, 403, "not_permitted_on_unit"),
        ("other_admin", ["volunteer_a"], 60, 404, "activity_not_found"),
    ],
)
async def test_bulk_credit_refusals_change_nothing(
    session: AsyncSession,
    client: Any,
    world: Any,
    db: Reader,
    who: str,
    volunteers: list[str],
    minutes: int,
    status: int,
    code: str,
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=2)

    response = await _bulk(
        client,
        world.auth[who],
        activity.id,
        {
            "volunteer_ids": [str(getattr(world, v).id) for v in volunteers],
            "minutes": minutes,
            "reason": "补记",
        },
    )

    assert_problem(response, status, code)
    assert await db.count(HoursRecord) == 0


async def test_bulk_credit_respects_the_daily_cap_of_each_volunteer(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    await set_daily_cap(session, world.region.id, 120)
    morning = await make_activity(session, world.station_x, world.organizer_x)
    afternoon = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        starts_at=morning.starts_at + timedelta(hours=3),
    )
    await checkin_hours(session, morning, world.volunteer_b, minutes=120)

    response = await _bulk(
        client,
        world.auth["organizer_x"],
        afternoon.id,
        {
            "volunteer_ids": [str(world.volunteer_a.id), str(world.volunteer_b.id)],
            "minutes": 60,
            "reason": "补记",
        },
    )

    problem = assert_problem(response, 422, "hours_over_daily_cap")
    assert problem["volunteer_ids"] == [str(world.volunteer_b.id)]
    assert await hours_of(db, world.volunteer_a.id) == []
