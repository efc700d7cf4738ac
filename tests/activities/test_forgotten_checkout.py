"""Forgotten check-outs: an hour after the end, the job closes open attendances, credits
them up to the scheduled end, flags them and finishes the activity; the organizer may
finish an ended activity sooner."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.activities.hours.models import HoursRecord
from app.activities.jobs import close_forgotten_checkouts
from app.activities.models import Activity, ActivityStatus, AttendanceMethod
from app.core import clock
from tests.activities.support import (
    Reader,
    assert_problem,
    attendances_of,
    auth,
    check_in,
    check_out,
    make_activity,
    sign_up_row,
)
from tests.builders import make_volunteer


async def run_job(app: Any) -> int:
    return await close_forgotten_checkouts(app.state.db.sessions)


async def test_the_job_closes_forgotten_check_outs_an_hour_after_the_end(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    # Checked in 10 minutes before a 2-hour activity: 130 minutes, capped at 120.
    activity = await make_activity(session, world.station_x, world.organizer_x, minutes=120)
    await sign_up_row(session, activity, world.volunteer_a)
    await sign_up_row(session, activity, world.volunteer_b)
    assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201
    assert (await check_in(client, app, world.volunteer_b, activity)).status_code == 201
    with clock.travel(activity.ends_at - timedelta(minutes=30)):
        assert (await check_out(client, app, world.volunteer_b, activity)).status_code == 200

    with clock.travel(activity.ends_at + timedelta(minutes=59)):
        assert await run_job(app) == 0
    with clock.travel(activity.ends_at + timedelta(minutes=61)):
        assert await run_job(app) == 1
        assert await run_job(app) == 0

    reader = Reader(app)
    rows = {a.volunteer_id: a for a in await attendances_of(reader, activity)}
    forgotten = rows[world.volunteer_a.id]
    assert forgotten.checked_out_at == activity.ends_at
    assert forgotten.checkout_method == AttendanceMethod.auto_close
    assert forgotten.flags == ["auto_closed"]
    assert forgotten.credited_minutes == 120
    assert rows[world.volunteer_b.id].checkout_method == AttendanceMethod.code
    [record] = await reader.all(
        select(HoursRecord).where(HoursRecord.attendance_id == forgotten.id)
    )
    assert record.minutes == 120
    assert record.status == "pending"
    assert "auto_closed" in record.flags
    finished = await reader.get(Activity, activity.id)
    assert finished.status == ActivityStatus.finished
    assert finished.finished_at is not None
    assert await reader.count(HoursRecord, HoursRecord.activity_id == activity.id) == 2


async def test_a_check_out_after_the_job_is_refused(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    await sign_up_row(session, activity, world.volunteer_a)
    assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201
    with clock.travel(activity.ends_at + timedelta(minutes=61)):
        await run_job(app)
        late = await check_out(client, app, world.volunteer_a, activity)

    assert_problem(late, 409, "checkout_too_late")
    assert await Reader(app).count(HoursRecord, HoursRecord.activity_id == activity.id) == 1


async def test_the_region_may_close_check_out_sooner(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    changed = await client.patch(
        "/v1/activity-policy",
        json={"checkout_closes_after_min": 20},
        headers=auth(app, world.center_admin),
    )
    assert changed.status_code == 200, changed.text
    activity = await make_activity(session, world.station_x, world.organizer_x)
    await sign_up_row(session, activity, world.volunteer_a)
    assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201

    with clock.travel(activity.ends_at + timedelta(minutes=21)):
        late = await check_out(client, app, world.volunteer_a, activity)
        assert_problem(late, 409, "checkout_too_late")
        assert await run_job(app) == 1


async def test_the_organizer_finishes_an_ended_activity(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, minutes=60)
    await sign_up_row(session, activity, world.volunteer_a)
    assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201
    url = f"/v1/activities/{activity.id}/finish"

    too_soon = await client.post(url, headers=auth(app, world.organizer_x))
    assert_problem(too_soon, 409, "activity_not_ended")
    with clock.travel(activity.ends_at + timedelta(minutes=5)):
        foreign = await client.post(url, headers=auth(app, world.organizer_y))
        assert_problem(foreign, 403, "not_permitted_on_unit")
        finished = await client.post(url, headers=auth(app, world.organizer_x))
        again = await client.post(url, headers=auth(app, world.organizer_x))

    assert finished.status_code == 200, finished.text
    assert finished.json()["status"] == "finished"
    assert_problem(again, 409, "activity_state_conflict")
    [row] = await attendances_of(Reader(app), activity)
    assert row.checkout_method == AttendanceMethod.auto_close
    assert row.credited_minutes == 60


@pytest.mark.postgres_only
async def test_two_workers_close_each_forgotten_check_out_once(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activities = [
        await make_activity(session, world.station_x, world.organizer_x, capacity=5)
        for _ in range(4)
    ]
    for activity in activities:
        volunteer = await make_volunteer(session, world.region)
        await sign_up_row(session, activity, volunteer)
        assert (await check_in(client, app, volunteer, activity)).status_code == 201

    with clock.travel(activities[0].ends_at + timedelta(minutes=61)):
        counts = await asyncio.gather(*(run_job(app) for _ in range(2)))
        assert await run_job(app) == 0

    assert sum(counts) == 4
    reader = Reader(app)
    ids = [a.id for a in activities]
    assert await reader.count(HoursRecord, HoursRecord.activity_id.in_(ids)) == 4
    assert await reader.count(Activity, Activity.status == ActivityStatus.finished) == 4
