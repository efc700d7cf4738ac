"""Check-in and check-out on site: the code, the place, the time window, the sign-up,
one attendance per volunteer, idempotent retries, and the hours a check-out records."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.activities import codes
from app.activities.hours.models import HoursRecord
from app.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    AttendanceMethod,
    RoundingMode,
    Signup,
)
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
    code_of,
    make_activity,
    minute,
    north,
    sign_up_row,
)
from tests.builders import bearer, make_volunteer


@pytest.fixture
async def activity(session: Any, world: Any) -> Activity:
    """Published, starting in 10 minutes, two hours long, world.volunteer_a signed up."""
    activity = await make_activity(session, world.station_x, world.organizer_x)
    await sign_up_row(session, activity, world.volunteer_a)
    return activity


async def attendance_count(app: Any, activity: Activity) -> int:
    return await Reader(app).count(Attendance, Attendance.activity_id == activity.id)


# Check-in


async def test_signed_up_volunteer_checks_in_on_site(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    response = await check_in(
        client, app, world.volunteer_a, activity, latitude=north(50), accuracy=12
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["activity_id"] == str(activity.id)
    assert body["volunteer_id"] == str(world.volunteer_a.id)
    assert body["method"] == "code"
    assert body["flags"] == []
    assert body["checked_out_at"] is None
    [row] = await attendances_of(Reader(app), activity)
    assert row.checkin_latitude == pytest.approx(north(50))
    assert row.checkin_accuracy == 12
    assert row.method == AttendanceMethod.code


async def test_check_in_opens_30_minutes_before_the_start(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    start = minute(clock.now()) + timedelta(minutes=45)
    activity = await make_activity(session, world.station_x, world.organizer_x, starts_at=start)
    await sign_up_row(session, activity, world.volunteer_a)

    with clock.travel(start - timedelta(minutes=31)):
        early = await check_in(client, app, world.volunteer_a, activity)
    assert_problem(early, 409, "checkin_too_early")
    assert await attendance_count(app, activity) == 0

    with clock.travel(start - timedelta(minutes=29)):
        on_time = await check_in(client, app, world.volunteer_a, activity)
    assert on_time.status_code == 201, on_time.text


async def test_check_in_closes_when_the_activity_ends(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    with clock.travel(activity.ends_at + timedelta(seconds=5)):
        response = await check_in(client, app, world.volunteer_a, activity)

    assert_problem(response, 409, "checkin_too_late")
    assert await attendance_count(app, activity) == 0


async def test_a_forged_code_is_refused(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    genuine = code_of(activity)
    forged = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")

    for code in (forged, "not-a-code", "a" + "x" * 31):
        response = await check_in(client, app, world.volunteer_a, activity, code=code)
        assert_problem(response, 422, "checkin_code_invalid")
    assert await attendance_count(app, activity) == 0


async def test_the_previous_window_is_accepted_but_nothing_older(
    client: Any, app: Any, world: Any, session: Any, activity: Activity
) -> None:
    other = await make_volunteer(session, world.region)
    await sign_up_row(session, activity, other)
    # One second into a window, so that the test runs within it.
    window = int(clock.now().timestamp()) // codes.WINDOW_SECONDS + 1
    now = datetime.fromtimestamp(window * codes.WINDOW_SECONDS + 1, tz=UTC)
    previous = code_of(activity, now - timedelta(seconds=codes.WINDOW_SECONDS))
    older = code_of(activity, now - timedelta(seconds=2 * codes.WINDOW_SECONDS))

    with clock.travel(now):
        stale = await check_in(client, app, world.volunteer_a, activity, code=older)
        assert_problem(stale, 422, "checkin_code_expired")
        assert await attendance_count(app, activity) == 0

        accepted = await check_in(client, app, other, activity, code=previous)
        assert accepted.status_code == 201, accepted.text


async def test_a_code_of_another_activity_is_refused(
    client: Any, app: Any, world: Any, session: Any, activity: Activity
) -> None:
    elsewhere = await make_activity(session, world.station_x, world.organizer_x)

    response = await check_in(client, app, world.volunteer_a, activity, code=code_of(elsewhere))

    assert_problem(response, 422, "checkin_code_wrong_activity")
    assert await attendance_count(app, activity) == 0


async def test_check_in_beyond_radius_plus_accuracy_is_refused(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    # Radius 300 m; a reported accuracy widens it, by 100 m at most.
    far = await check_in(client, app, world.volunteer_a, activity, latitude=north(330), accuracy=20)
    body = assert_problem(far, 422, "checkin_out_of_range")
    assert body["distance_m"] == 330
    assert body["allowed_m"] == 320
    vague = await check_in(
        client, app, world.volunteer_a, activity, latitude=north(420), accuracy=5000
    )
    assert_problem(vague, 422, "checkin_out_of_range")
    assert await attendance_count(app, activity) == 0

    near_enough = await check_in(
        client, app, world.volunteer_a, activity, latitude=north(390), accuracy=150
    )
    assert near_enough.status_code == 201, near_enough.text


async def test_coordinates_out_of_range_are_refused(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    for latitude, longitude, accuracy in ((91.0, LNG, 10), (LAT, -181.0, 10), (LAT, LNG, -1)):
        response = await check_in(
            client,
            app,
            world.volunteer_a,
            activity,
            latitude=latitude,
            longitude=longitude,
            accuracy=accuracy,
        )
        assert_problem(response, 422, "validation_failed")
    assert await attendance_count(app, activity) == 0


async def test_a_volunteer_not_signed_up_is_refused_without_walk_ins(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    response = await check_in(client, app, world.volunteer_b, activity)

    assert_problem(response, 403, "not_signed_up")
    assert await attendance_count(app, activity) == 0


async def test_a_walk_in_takes_a_place_while_one_is_left(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(
        session, world.station_x, world.organizer_x, capacity=1, walk_ins_allowed=True
    )
    reader = Reader(app)

    first = await check_in(client, app, world.volunteer_a, activity)
    assert first.status_code == 201, first.text
    second = await check_in(client, app, world.volunteer_b, activity)
    assert_problem(second, 409, "activity_full")

    assert (await reader.get(Activity, activity.id)).signed_up == 1
    [signup] = await reader.all(select(Signup).where(Signup.activity_id == activity.id))
    assert signup.volunteer_id == world.volunteer_a.id
    assert signup.walk_in is True
    assert await attendance_count(app, activity) == 1


async def test_check_in_to_a_cancelled_activity_is_refused(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(
        session, world.station_x, world.organizer_x, status=ActivityStatus.cancelled
    )

    response = await check_in(client, app, world.volunteer_a, activity)

    assert_problem(response, 409, "activity_cancelled")
    assert await attendance_count(app, activity) == 0


async def test_drafts_and_other_regions_activities_do_not_exist_for_volunteers(
    client: Any, app: Any, world: Any, session: Any, activity: Activity
) -> None:
    draft = await make_activity(
        session, world.station_x, world.organizer_x, status=ActivityStatus.draft
    )

    assert_problem(await check_in(client, app, world.volunteer_a, draft), 404, "activity_not_found")
    assert_problem(
        await check_in(client, app, world.other_volunteer, activity), 404, "activity_not_found"
    )
    assert await attendance_count(app, activity) == 0


async def test_the_same_code_serves_many_volunteers_but_each_once(
    client: Any, app: Any, world: Any, session: Any, activity: Activity
) -> None:
    await sign_up_row(session, activity, world.volunteer_b)
    code = code_of(activity)

    a = await check_in(client, app, world.volunteer_a, activity, code=code)
    b = await check_in(client, app, world.volunteer_b, activity, code=code)
    again = await check_in(client, app, world.volunteer_a, activity, code=code)

    assert (a.status_code, b.status_code) == (201, 201)
    assert_problem(again, 409, "already_checked_in")
    assert await attendance_count(app, activity) == 2


async def test_a_retry_with_the_same_key_replays_and_another_body_is_refused(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    code = code_of(activity)
    first = await check_in(client, app, world.volunteer_a, activity, code=code, key="k-1")
    retry = await check_in(client, app, world.volunteer_a, activity, code=code, key="k-1")
    other_body = await check_in(
        client, app, world.volunteer_a, activity, code=code, key="k-1", latitude=north(10)
    )

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert_problem(other_body, 422, "idempotency_key_reused")
    assert await attendance_count(app, activity) == 1


async def test_check_in_needs_an_idempotency_key(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    response = await client.post(
        f"/v1/activities/{activity.id}/check-in",
        json={"code": code_of(activity), "latitude": LAT, "longitude": LNG, "accuracy": 10},
        headers=auth(app, world.volunteer_a),
    )

    assert_problem(response, 400, "idempotency_key_missing")
    assert await attendance_count(app, activity) == 0


async def test_staff_cannot_check_in_as_a_volunteer(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    response = await client.post(
        f"/v1/activities/{activity.id}/check-in",
        json={"code": code_of(activity), "latitude": LAT, "longitude": LNG, "accuracy": 10},
        headers={**auth(app, world.organizer_x), "Idempotency-Key": "k"},
    )

    assert_problem(response, 403, "forbidden")


async def test_a_token_of_a_volunteer_who_does_not_exist_is_refused(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    # Check-in confirms the volunteer in its own context query, not by loading them first.
    ghost = bearer(app, sub=uuid.uuid4(), typ="volunteer", region_id=world.region.id)
    for action in ("check-in", "check-out"):
        response = await client.post(
            f"/v1/activities/{activity.id}/{action}",
            json={"code": code_of(activity), "latitude": LAT, "longitude": LNG, "accuracy": 10},
            headers={**ghost, "Idempotency-Key": f"ghost-{action}"},
        )

        assert_problem(response, 401, "token_invalid")
    assert await attendance_count(app, activity) == 0


# Check-out


async def test_check_out_closes_the_attendance_and_records_rounded_hours(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    checked_in = await check_in(client, app, world.volunteer_a, activity)
    assert checked_in.status_code == 201
    in_at = clock.now()

    # 85 minutes on site: one hour, and 25 minutes that round to 30.
    with clock.travel(in_at + timedelta(minutes=85)):
        response = await check_out(
            client, app, world.volunteer_a, activity, latitude=north(20), accuracy=8
        )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["credited_minutes"] == 90
    assert body["checkout_method"] == "code"
    reader = Reader(app)
    [row] = await attendances_of(reader, activity)
    assert row.checked_out_at is not None
    assert row.checkout_latitude == pytest.approx(north(20))
    record = await reader.get(HoursRecord, uuid.UUID(body["hours_record_id"]))
    assert record.minutes == 90
    assert record.source == "checkin"
    assert record.status == "pending"
    assert record.attendance_id == row.id


async def test_minutes_are_capped_at_the_activity_duration(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201

    # Checked in 10 minutes before the start, out 50 minutes after the end.
    with clock.travel(activity.ends_at + timedelta(minutes=50)):
        response = await check_out(client, app, world.volunteer_a, activity)

    assert response.status_code == 200, response.text
    assert response.json()["credited_minutes"] == 120


async def test_early_arrival_earns_no_minutes_before_the_start(
    client: Any, app: Any, session: Any, world: Any
) -> None:
    activity = await make_activity(
        session, world.station_x, world.organizer_x, rounding_mode=RoundingMode.exact
    )
    await sign_up_row(session, activity, world.volunteer_a)
    # Checked in 25 minutes before the start (check-in opens 30 minutes before it).
    with clock.travel(activity.starts_at - timedelta(minutes=25)):
        assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201
    with clock.travel(activity.starts_at + timedelta(minutes=40)):
        response = await check_out(client, app, world.volunteer_a, activity)

    assert response.status_code == 200, response.text
    assert response.json()["credited_minutes"] == 40
    record = await Reader(app).get(HoursRecord, uuid.UUID(response.json()["hours_record_id"]))
    assert record.minutes == 40


async def test_a_late_stay_earns_no_minutes_after_the_end(
    client: Any, app: Any, session: Any, world: Any
) -> None:
    activity = await make_activity(
        session, world.station_x, world.organizer_x, rounding_mode=RoundingMode.exact
    )
    await sign_up_row(session, activity, world.volunteer_a)
    # In 70 minutes after the start of a two-hour activity (half a minute early, as the
    # clock ticks on), out 45 minutes after its end.
    with clock.travel(activity.starts_at + timedelta(minutes=69, seconds=30)):
        assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201
    with clock.travel(activity.ends_at + timedelta(minutes=45)):
        response = await check_out(client, app, world.volunteer_a, activity)

    assert response.status_code == 200, response.text
    assert response.json()["credited_minutes"] == 50


async def test_check_out_without_check_in_is_refused(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    with clock.travel(activity.starts_at + timedelta(minutes=30)):
        response = await check_out(client, app, world.volunteer_a, activity)

    assert_problem(response, 409, "not_checked_in")
    assert await attendance_count(app, activity) == 0
    assert await Reader(app).count(HoursRecord, HoursRecord.activity_id == activity.id) == 0


async def test_check_out_window_runs_from_the_start_to_an_hour_after_the_end(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201

    early = await check_out(client, app, world.volunteer_a, activity)
    assert_problem(early, 409, "checkout_too_early")
    with clock.travel(activity.ends_at + timedelta(minutes=61)):
        late = await check_out(client, app, world.volunteer_a, activity)
    assert_problem(late, 409, "checkout_too_late")

    [row] = await attendances_of(Reader(app), activity)
    assert row.checked_out_at is None


async def test_check_out_far_from_the_place_or_twice_is_refused(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201

    with clock.travel(activity.starts_at + timedelta(minutes=60)):
        far = await check_out(client, app, world.volunteer_a, activity, latitude=north(2000))
        assert_problem(far, 422, "checkin_out_of_range")
        done = await check_out(client, app, world.volunteer_a, activity)
        assert done.status_code == 200, done.text
        twice = await check_out(client, app, world.volunteer_a, activity)
        assert_problem(twice, 409, "already_checked_out")

    assert await Reader(app).count(HoursRecord, HoursRecord.activity_id == activity.id) == 1


# Concurrency, with real parallel connections


@pytest.mark.postgres_only
async def test_fifty_simultaneous_check_ins_with_one_key_make_one_attendance(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    code = code_of(activity)

    responses = await asyncio.gather(
        *(
            check_in(client, app, world.volunteer_a, activity, code=code, key="same-key")
            for _ in range(50)
        )
    )

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert len({r.text for r in created}) == 1, "every success is the one response, replayed"
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409, "idempotency_key_in_flight")
    assert await attendance_count(app, activity) == 1


@pytest.mark.postgres_only
async def test_fifty_simultaneous_check_ins_with_different_keys_make_one_attendance(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    code = code_of(activity)

    responses = await asyncio.gather(
        *(check_in(client, app, world.volunteer_a, activity, code=code) for _ in range(50))
    )

    assert sum(r.status_code == 201 for r in responses) == 1
    for r in responses:
        if r.status_code != 201:
            assert_problem(r, 409, "already_checked_in")
    assert await attendance_count(app, activity) == 1
    count = await Reader(app).count(Attendance, Attendance.volunteer_id == world.volunteer_a.id)
    assert count == 1


async def test_rows_are_unchanged_by_refusals(
    client: Any, app: Any, world: Any, activity: Activity
) -> None:
    # Every refusal above leaves the sign-up count and attendances as they were.
    await check_in(client, app, world.volunteer_b, activity)
    await check_in(client, app, world.volunteer_a, activity, code="bad")

    reader = Reader(app)
    assert (await reader.get(Activity, activity.id)).signed_up == 1
    total = await reader.count(Signup, Signup.activity_id == activity.id)
    assert total == 1
    async with app.state.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Attendance)) == 0
