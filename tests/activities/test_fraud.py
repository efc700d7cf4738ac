"""Anti-fraud: impossible travel and overlapping attendances are refused (and recorded
for the organizer); more than 12 hours a day is capped; identical coordinates from many
volunteers and a zero accuracy are flagged."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.activities.hours.models import HoursRecord
from app.activities.models import Activity, Attendance, CheckinRefusal
from app.core import clock
from tests.activities.support import (
    LAT,
    LNG,
    Reader,
    assert_problem,
    attendances_of,
    auth,
    check_in,
    check_out,
    make_activity,
    minute,
    north,
    sign_up_row,
)
from tests.builders import make_volunteer

KM = 1000.0


async def refusals_of(app: Any, activity: Activity) -> list[CheckinRefusal]:
    return list(
        await Reader(app).all(
            select(CheckinRefusal).where(CheckinRefusal.activity_id == activity.id)
        )
    )


async def test_a_check_in_far_from_the_last_check_out_within_the_hour_is_refused(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    t0 = minute(clock.now())
    here = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        starts_at=t0 + timedelta(minutes=10),
        minutes=30,
    )
    far = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        starts_at=t0 + timedelta(minutes=50),
        latitude=north(60 * KM),
    )
    for activity in (here, far):
        await sign_up_row(session, activity, world.volunteer_a)
    assert (await check_in(client, app, world.volunteer_a, here)).status_code == 201
    with clock.travel(t0 + timedelta(minutes=45)):
        assert (await check_out(client, app, world.volunteer_a, here)).status_code == 200

    with clock.travel(t0 + timedelta(minutes=60)):
        refused = await check_in(client, app, world.volunteer_a, far, latitude=north(60 * KM))
    body = assert_problem(refused, 403, "impossible_travel")
    assert body["distance_km"] == 60.0
    assert await attendances_of(Reader(app), far) == []
    [refusal] = await refusals_of(app, far)
    assert refusal.reason == "impossible_travel"
    assert refusal.volunteer_id == world.volunteer_a.id

    # An hour after the check-out, the trip is possible.
    with clock.travel(t0 + timedelta(minutes=106)):
        later = await check_in(client, app, world.volunteer_a, far, latitude=north(60 * KM))
    assert later.status_code == 201, later.text


async def test_a_check_in_within_50_km_of_the_last_is_accepted(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    t0 = minute(clock.now())
    here = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        starts_at=t0 + timedelta(minutes=10),
        minutes=30,
    )
    near = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        starts_at=t0 + timedelta(minutes=50),
        latitude=north(40 * KM),
    )
    for activity in (here, near):
        await sign_up_row(session, activity, world.volunteer_a)
    assert (await check_in(client, app, world.volunteer_a, here)).status_code == 201
    with clock.travel(t0 + timedelta(minutes=45)):
        assert (await check_out(client, app, world.volunteer_a, here)).status_code == 200
        accepted = await check_in(client, app, world.volunteer_a, near, latitude=north(40 * KM))

    assert accepted.status_code == 201, accepted.text


async def test_checking_in_while_checked_in_elsewhere_is_refused(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    first = await make_activity(session, world.station_x, world.organizer_x)
    second = await make_activity(
        session, world.station_x, world.organizer_x, latitude=north(1 * KM)
    )
    for activity in (first, second):
        await sign_up_row(session, activity, world.volunteer_a)
    assert (await check_in(client, app, world.volunteer_a, first)).status_code == 201

    refused = await check_in(client, app, world.volunteer_a, second, latitude=north(1 * KM))

    body = assert_problem(refused, 409, "overlapping_attendance")
    assert body["other_activity_id"] == str(first.id)
    assert await attendances_of(Reader(app), second) == []
    [refusal] = await refusals_of(app, second)
    assert refusal.reason == "overlapping_attendance"

    # Once checked out of the first, the second is fine.
    with clock.travel(first.starts_at + timedelta(minutes=20)):
        assert (await check_out(client, app, world.volunteer_a, first)).status_code == 200
        accepted = await check_in(client, app, world.volunteer_a, second, latitude=north(1 * KM))
    assert accepted.status_code == 201, accepted.text


async def test_an_open_attendance_of_an_ended_activity_does_not_block_the_next(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    t0 = minute(clock.now())
    forgotten = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        starts_at=t0 + timedelta(minutes=10),
        minutes=60,
    )
    next_one = await make_activity(
        session, world.station_x, world.organizer_x, starts_at=t0 + timedelta(minutes=100)
    )
    for activity in (forgotten, next_one):
        await sign_up_row(session, activity, world.volunteer_a)
    assert (await check_in(client, app, world.volunteer_a, forgotten)).status_code == 201

    # The forgotten check-out will be credited up to its end, before this check-in.
    with clock.travel(t0 + timedelta(minutes=75)):
        response = await check_in(client, app, world.volunteer_a, next_one)
    assert response.status_code == 201, response.text


async def test_the_day_is_capped_at_twelve_hours(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    # 08:30 in Shanghai, some future day: an 11-hour activity, then a 2-hour one.
    day = datetime(2031, 3, 4, 0, 30, tzinfo=UTC)
    with clock.travel(day):
        long_one = await make_activity(
            session,
            world.station_x,
            world.organizer_x,
            starts_at=day + timedelta(minutes=30),
            minutes=11 * 60,
        )
        evening = await make_activity(
            session,
            world.station_x,
            world.organizer_x,
            starts_at=day + timedelta(hours=12),
            minutes=120,
        )
        for activity in (long_one, evening):
            await sign_up_row(session, activity, world.volunteer_a)
        assert (await check_in(client, app, world.volunteer_a, long_one)).status_code == 201
    with clock.travel(long_one.ends_at + timedelta(minutes=5)):
        first = await check_out(client, app, world.volunteer_a, long_one)
    assert first.json()["credited_minutes"] == 660
    with clock.travel(evening.starts_at - timedelta(minutes=5)):
        assert (await check_in(client, app, world.volunteer_a, evening)).status_code == 201
    with clock.travel(evening.ends_at + timedelta(minutes=5)):
        second = await check_out(client, app, world.volunteer_a, evening)

    assert second.status_code == 200, second.text
    body = second.json()
    assert body["credited_minutes"] == 60
    assert "daily_cap" in body["flags"]
    record = await Reader(app).get(HoursRecord, uuid.UUID(body["hours_record_id"]))
    assert record.minutes == 60
    assert "daily_cap" in record.flags


async def test_identical_coordinates_from_five_volunteers_flag_all_five(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, capacity=20)
    volunteers = [await make_volunteer(session, world.region) for _ in range(6)]
    for v in volunteers:
        await sign_up_row(session, activity, v)
    spot = north(42.123456)

    for v in volunteers[:4]:
        assert (await check_in(client, app, v, activity, latitude=spot)).status_code == 201
    four = await attendances_of(Reader(app), activity)
    assert all("shared_coordinates" not in a.flags for a in four)

    fifth = await check_in(client, app, volunteers[4], activity, latitude=spot)
    assert fifth.status_code == 201
    assert "shared_coordinates" in fifth.json()["flags"]
    # Twelve metres away is another place.
    elsewhere = await check_in(client, app, volunteers[5], activity, latitude=north(30))
    assert elsewhere.json()["flags"] == []

    rows = await attendances_of(Reader(app), activity)
    flagged = {a.volunteer_id for a in rows if "shared_coordinates" in a.flags}
    assert flagged == {v.id for v in volunteers[:5]}


async def test_positions_jittered_by_a_metre_or_two_count_as_shared(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, capacity=20)
    volunteers = [await make_volunteer(session, world.region) for _ in range(6)]
    for v in volunteers:
        await sign_up_row(session, activity, v)
    # A spoofer nudging the venue's point: never the same twice, all within 2 m of it.
    jitters = [(0.0, 0.0), (0.8, 0.000005), (-1.1, -0.00001), (1.6, 0.0), (-0.4, 0.000012)]
    answers = [
        await check_in(client, app, v, activity, latitude=north(60 + dn), longitude=LNG + de)
        for v, (dn, de) in zip(volunteers, jitters, strict=False)
    ]

    assert all(a.status_code == 201 for a in answers)
    assert "shared_coordinates" in answers[-1].json()["flags"]
    rows = await attendances_of(Reader(app), activity)
    assert all("shared_coordinates" in a.flags for a in rows)
    assert len({(a.checkin_latitude, a.checkin_longitude) for a in rows}) == 5
    honest = await check_in(client, app, volunteers[5], activity, latitude=north(75))
    assert honest.json()["flags"] == []


@pytest.mark.postgres_only
async def test_once_flagged_the_shared_check_ins_are_not_locked_again(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, capacity=20)
    volunteers = [await make_volunteer(session, world.region) for _ in range(7)]
    for v in volunteers:
        await sign_up_row(session, activity, v)
    spot = north(42.654321)
    for v in volunteers[:5]:
        assert (await check_in(client, app, v, activity, latitude=spot)).status_code == 201
    first = (await attendances_of(Reader(app), activity))[0]
    assert "shared_coordinates" in first.flags

    # Another transaction holds the first check-in's row; the next check-ins at the spot
    # have nothing left to flag there, so they neither wait for it nor lock it.
    async with app.state.db.sessions() as other, other.begin():
        await other.execute(
            select(Attendance.id).where(Attendance.id == first.id).with_for_update()
        )
        sixth = await asyncio.wait_for(
            check_in(client, app, volunteers[5], activity, latitude=spot), timeout=10
        )
    seventh = await check_in(client, app, volunteers[6], activity, latitude=spot)

    assert sixth.status_code == 201, sixth.text
    assert "shared_coordinates" in sixth.json()["flags"]
    assert "shared_coordinates" in seventh.json()["flags"]
    rows = await attendances_of(Reader(app), activity)
    assert all("shared_coordinates" in a.flags for a in rows)
    assert len(rows) == 7


async def test_a_zero_accuracy_is_flagged_but_accepted(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    await sign_up_row(session, activity, world.volunteer_a)

    response = await check_in(client, app, world.volunteer_a, activity, accuracy=0)

    assert response.status_code == 201
    assert response.json()["flags"] == ["zero_accuracy"]
    [row] = await attendances_of(Reader(app), activity)
    assert row.flags == ["zero_accuracy"]


async def test_organizers_see_flags_and_refusals(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    first = await make_activity(session, world.station_x, world.organizer_x)
    second = await make_activity(session, world.station_x, world.organizer_x)
    for activity in (first, second):
        await sign_up_row(session, activity, world.volunteer_a)
    await check_in(client, app, world.volunteer_a, first, accuracy=0)
    await check_in(client, app, world.volunteer_a, second)

    attendances = await client.get(
        f"/v1/activities/{first.id}/attendances", headers=auth(app, world.organizer_x)
    )
    refusals = await client.get(
        f"/v1/activities/{second.id}/checkin-refusals", headers=auth(app, world.organizer_x)
    )
    foreign = await client.get(
        f"/v1/activities/{first.id}/attendances", headers=auth(app, world.organizer_y)
    )

    [item] = attendances.json()["items"]
    assert item["flags"] == ["zero_accuracy"]
    assert item["volunteer_name"] == "志愿者甲"
    assert item["checkin_latitude"] == LAT
    [refusal] = refusals.json()["items"]
    assert refusal["reason"] == "overlapping_attendance"
    assert_problem(foreign, 403, "not_permitted_on_unit")
    assert await Reader(app).count(Attendance, Attendance.activity_id == second.id) == 0
