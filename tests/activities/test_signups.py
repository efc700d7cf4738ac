"""Sign-ups: the window, capacity held exactly (under concurrency too), one per volunteer,
cancelling frees the place until the start, and the organizer's list."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.activities.models import Activity, ActivityStatus, Signup, SignupStatus
from app.core import clock
from tests.activities.support import (
    Reader,
    assert_problem,
    auth,
    check_in,
    make_activity,
    minute,
    sign_up_row,
)
from tests.builders import make_volunteer


def url(activity: Activity) -> str:
    return f"/v1/activities/{activity.id}/signups"


async def places(app: Any, activity: Activity) -> tuple[int, int]:
    """The counter on the activity, and the active sign-up rows."""
    reader = Reader(app)
    counter = (await reader.get(Activity, activity.id)).signed_up
    active = await reader.count(
        Signup, Signup.activity_id == activity.id, Signup.status == SignupStatus.active
    )
    return counter, active


async def test_a_volunteer_signs_up_once(client: Any, app: Any, world: Any, session: Any) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)

    first = await client.post(url(activity), headers=auth(app, world.volunteer_a))
    again = await client.post(url(activity), headers=auth(app, world.volunteer_a))

    assert first.status_code == 201, first.text
    assert first.json()["status"] == "active"
    assert_problem(again, 409, "already_signed_up")
    assert await places(app, activity) == (1, 1)


async def test_the_last_place_goes_to_one_volunteer(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, capacity=1)

    taken = await client.post(url(activity), headers=auth(app, world.volunteer_a))
    full = await client.post(url(activity), headers=auth(app, world.volunteer_b))

    assert taken.status_code == 201
    assert_problem(full, 409, "activity_full")
    assert await places(app, activity) == (1, 1)


async def test_sign_up_respects_its_window(client: Any, app: Any, world: Any, session: Any) -> None:
    now = minute(clock.now())
    activity = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        starts_at=now + timedelta(days=2),
        signup_opens_at=now + timedelta(hours=1),
        signup_closes_at=now + timedelta(days=1),
    )
    default_window = await make_activity(session, world.station_x, world.organizer_x)

    early = await client.post(url(activity), headers=auth(app, world.volunteer_a))
    assert_problem(early, 409, "signup_not_open")
    with clock.travel(now + timedelta(days=1, seconds=1)):
        late = await client.post(url(activity), headers=auth(app, world.volunteer_a))
    assert_problem(late, 409, "signup_closed")
    # Without a closing time, sign-up closes when the activity starts.
    with clock.travel(default_window.starts_at):
        started = await client.post(url(default_window), headers=auth(app, world.volunteer_a))
    assert_problem(started, 409, "signup_closed")
    with clock.travel(now + timedelta(hours=2)):
        ok = await client.post(url(activity), headers=auth(app, world.volunteer_a))
    assert ok.status_code == 201
    assert await places(app, default_window) == (0, 0)


async def test_cancelling_frees_the_place_until_the_start(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, capacity=1)
    await sign_up_row(session, activity, world.volunteer_a)

    cancelled = await client.delete(url(activity), headers=auth(app, world.volunteer_a))
    assert cancelled.status_code == 204
    assert await places(app, activity) == (0, 0)
    taken = await client.post(url(activity), headers=auth(app, world.volunteer_b))
    assert taken.status_code == 201
    not_signed = await client.delete(url(activity), headers=auth(app, world.volunteer_a))
    assert_problem(not_signed, 404, "signup_not_found")

    with clock.travel(activity.starts_at + timedelta(seconds=1)):
        too_late = await client.delete(url(activity), headers=auth(app, world.volunteer_b))
    assert_problem(too_late, 409, "signup_cancel_too_late")
    assert await places(app, activity) == (1, 1)


async def test_a_volunteer_signs_up_again_after_cancelling(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    headers = auth(app, world.volunteer_a)

    await client.post(url(activity), headers=headers)
    await client.delete(url(activity), headers=headers)
    again = await client.post(url(activity), headers=headers)

    assert again.status_code == 201
    assert await places(app, activity) == (1, 1)
    assert await Reader(app).count(Signup, Signup.activity_id == activity.id) == 1


async def test_a_checked_in_volunteer_cannot_cancel(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    await sign_up_row(session, activity, world.volunteer_a)
    assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201

    response = await client.delete(url(activity), headers=auth(app, world.volunteer_a))

    assert_problem(response, 409, "already_checked_in")
    assert await places(app, activity) == (1, 1)


async def test_other_regions_and_drafts_cannot_be_signed_up_for(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    draft = await make_activity(
        session, world.station_x, world.organizer_x, status=ActivityStatus.draft
    )

    foreign = await client.post(url(activity), headers=auth(app, world.other_volunteer))
    hidden = await client.post(url(draft), headers=auth(app, world.volunteer_a))
    staff = await client.post(url(activity), headers=auth(app, world.organizer_x))

    assert_problem(foreign, 404, "activity_not_found")
    assert_problem(hidden, 404, "activity_not_found")
    assert_problem(staff, 403, "forbidden")
    assert await places(app, activity) == (0, 0)


async def test_organizers_list_sign_ups_with_names(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    for v in (world.volunteer_a, world.volunteer_b):
        await sign_up_row(session, activity, v)

    listed = await client.get(url(activity) + "?limit=1", headers=auth(app, world.organizer_x))
    rest = await client.get(
        url(activity),
        params={"cursor": listed.json()["next_cursor"]},
        headers=auth(app, world.organizer_x),
    )
    volunteer = await client.get(url(activity), headers=auth(app, world.volunteer_a))

    names = [i["volunteer_name"] for i in listed.json()["items"] + rest.json()["items"]]
    assert names == ["志愿者甲", "志愿者乙"]
    assert rest.json()["next_cursor"] is None
    assert_problem(volunteer, 403, "forbidden")


@pytest.mark.postgres_only
async def test_a_hundred_simultaneous_sign_ups_fill_ten_places_exactly(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, capacity=10)
    volunteers = [await make_volunteer(session, world.region) for _ in range(100)]
    headers = [auth(app, v) for v in volunteers]

    responses = await asyncio.gather(*(client.post(url(activity), headers=h) for h in headers))

    assert sum(r.status_code == 201 for r in responses) == 10
    for r in responses:
        if r.status_code != 201:
            assert_problem(r, 409, "activity_full")
    assert await places(app, activity) == (10, 10)
    rows = await Reader(app).all(select(Signup).where(Signup.activity_id == activity.id))
    assert len({s.volunteer_id for s in rows}) == 10
