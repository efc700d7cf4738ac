"""A drill's muster is an activity like another: called volunteers check in without a
sign-up, their hours follow the usual rules, and the drill is training on their record."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours.models import HoursRecord
from app.activities.models import Activity, Signup
from app.core import clock
from tests.activities.support import check_in, check_out
from tests.emergency.support import Reader, auth, enrol_row, make_grid, raise_alert


async def test_a_drill_attended_appears_as_training_and_its_hours_as_service(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a, skills=["swimming"])
    alert = await raise_alert(client, app, world.organizer_x, [grid], drill=True)
    activity = await Reader(app).get(Activity, uuid.UUID(alert["activity_id"]))
    assert activity.drill

    assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201
    [signup] = await Reader(app).all(select(Signup).where(Signup.activity_id == activity.id))
    assert signup.walk_in
    with clock.travel(clock.now() + timedelta(minutes=70)):
        out = await check_out(client, app, world.volunteer_a, activity)
        assert out.status_code == 200, out.text
        record_id = out.json()["hours_record_id"]
        approved = await client.post(
            f"/v1/hours/{record_id}/approve", headers=auth(app, world.station_admin_x)
        )
        assert approved.status_code == 200, approved.text
        record = (await client.get("/v1/me/record", headers=auth(app, world.volunteer_a))).json()

    [training] = record["training"]
    assert training["title"] == activity.title
    assert training["organizer"] == "点X"
    assert training["minutes"] == 60
    assert [item["activity_id"] for item in record["service"]["items"]] == [str(activity.id)]
    [hours] = await Reader(app).all(select(HoursRecord))
    assert hours.minutes == 60


async def test_a_real_call_out_is_service_but_not_training(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a)
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    activity = await Reader(app).get(Activity, uuid.UUID(alert["activity_id"]))
    await check_in(client, app, world.volunteer_a, activity)
    with clock.travel(clock.now() + timedelta(minutes=40)):
        await check_out(client, app, world.volunteer_a, activity)
        record = (await client.get("/v1/me/record", headers=auth(app, world.volunteer_a))).json()

    assert record["training"] == []
