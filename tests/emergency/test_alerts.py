"""Call-outs: raised for grids, every confirmed member told in the same request, the
muster board counting answers and skills; answers last-wins; stand-down tells those
coming and closes the muster; refusals change nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, ActivityStatus
from app.core import clock
from app.emergency.models import Alert, AlertStatus, EnrolmentStatus, Response
from app.notifications.models import Notification
from tests.activities.support import check_in
from tests.builders import make_volunteer
from tests.emergency.support import (
    Reader,
    alert_body,
    assert_problem,
    audit_of,
    auth,
    enrol_row,
    inbox,
    make_grid,
    raise_alert,
)


async def test_raising_an_alert_tells_every_confirmed_member_and_opens_the_muster(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a, skills=["first_aid"])
    await enrol_row(session, grid, world.volunteer_b, status=EnrolmentStatus.pending)

    alert = await raise_alert(client, app, world.organizer_x, [grid])

    assert alert["counts"] == {"called": 1, "coming": 0, "not_coming": 0, "no_answer": 1}
    assert alert["org_unit_id"] == str(world.point_x.id)
    assert alert["wave"] == "grids"
    [told] = await inbox(client, app, world.volunteer_a)
    assert told["kind"] == "emergency.callout"
    assert told["data"]["alert_id"] == alert["id"]
    assert told["data"]["muster_point"] == "点X广场"
    assert await inbox(client, app, world.volunteer_b) == []
    activity = await Reader(app).get(Activity, uuid.UUID(alert["activity_id"]))
    assert activity.status == ActivityStatus.published
    assert activity.walk_ins_allowed
    assert (activity.latitude, activity.address) == (alert["muster"]["latitude"], "松陵街道1号")
    assert await audit_of(Reader(app), alert["id"]) == ["alert_raised"]


async def test_the_board_counts_answers_and_skills_and_names_people_to_staff_only(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a, skills=["first_aid", "driving"])
    await enrol_row(session, grid, world.volunteer_b, skills=["swimming"])
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    url = f"/v1/alerts/{alert['id']}"

    coming = await client.put(
        f"{url}/response",
        json={"answer": "coming", "eta_minutes": 12},
        headers=world.auth["volunteer_a"],
    )
    assert coming.status_code == 200, coming.text
    assert coming.json()["version"] == 2
    await client.put(
        f"{url}/response", json={"answer": "not_coming"}, headers=world.auth["volunteer_b"]
    )

    staff = (await client.get(url, headers=world.auth["station_admin_x"])).json()
    assert staff["counts"] == {"called": 2, "coming": 1, "not_coming": 1, "no_answer": 0}
    assert {s["skill"]: (s["needed"], s["coming"]) for s in staff["skills"]} == {
        "first_aid": (1, 1),
        "driving": (0, 1),
    }
    assert [(r["name"], r["answer"], r["eta_minutes"]) for r in staff["responders"]] == [
        ("志愿者甲", "coming", 12),
        ("志愿者乙", "not_coming", None),
    ]
    assert staff["my_answer"] is None
    mine = (await client.get(url, headers=world.auth["volunteer_b"])).json()
    assert mine["counts"] == staff["counts"]
    assert mine["responders"] is None
    assert mine["my_answer"]["answer"] == "not_coming"


async def test_the_last_answer_counts_once(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a)
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    url = f"/v1/alerts/{alert['id']}/response"

    for body in (
        {"answer": "coming", "eta_minutes": 5},
        {"answer": "not_coming"},
        {"answer": "coming", "eta_minutes": 20},
    ):
        await client.put(url, json=body, headers=world.auth["volunteer_a"])

    [row] = await Reader(app).all(select(Response))
    assert (row.answer, row.eta_minutes, row.answers, row.version) == ("coming", 20, 3, 4)
    board = await client.get(f"/v1/alerts/{alert['id']}", headers=world.auth["organizer_x"])
    assert board.json()["counts"]["coming"] == 1


async def test_an_alert_is_hidden_from_those_it_did_not_call_and_staff_out_of_reach(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a)
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    url = f"/v1/alerts/{alert['id']}"

    for who in ("volunteer_b", "other_volunteer", "organizer_y", "other_admin"):
        assert_problem(await client.get(url, headers=world.auth[who]), 404, "alert_not_found")
    answer = await client.put(
        f"{url}/response", json={"answer": "coming"}, headers=world.auth["volunteer_b"]
    )
    assert_problem(answer, 404, "alert_not_found")
    for action, body in (("escalate", None), ("stand-down", {"reason": "x"})):
        refused = await client.post(f"{url}/{action}", json=body, headers=world.auth["organizer_y"])
        assert_problem(refused, 404, "alert_not_found")
    assert await Reader(app).count(Response) == 0
    listed = await client.get("/v1/alerts", headers=world.auth["organizer_y"])
    assert listed.json()["items"] == []
    mine = await client.get("/v1/alerts", headers=world.auth["volunteer_a"])
    assert [a["id"] for a in mine.json()["items"]] == [alert["id"]]


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"muster_by": "PAST"}, 422, "muster_by_invalid"),
        ({"muster_by": "FAR"}, 422, "muster_by_invalid"),
        ({"needed_skills": {"first_aid": -1}}, 422, "validation_failed"),
        ({"needed_total": 0}, 422, "validation_failed"),
        ({"needed_total": 2, "needed_skills": {"swimming": 3}}, 422, "alert_needs_invalid"),
        (
            {"muster": {"name": "x", "address": "y", "latitude": 95, "longitude": 120}},
            422,
            "validation_failed",
        ),
        ({"grid_ids": []}, 422, "validation_failed"),
        ({"kind": "meteor"}, 422, "validation_failed"),
    ],
    ids=[
        "past",
        "far",
        "negative-skill",
        "no-one",
        "skill-over-total",
        "latitude",
        "no-grid",
        "kind",
    ],
)
async def test_a_bad_alert_is_refused_and_nothing_is_written(
    session: AsyncSession,
    client: Any,
    world: Any,
    app: Any,
    overrides: dict[str, Any],
    status: int,
    code: str,
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a)
    if overrides.get("muster_by") == "PAST":
        overrides["muster_by"] = (clock.now() - timedelta(minutes=1)).isoformat()
    if overrides.get("muster_by") == "FAR":
        overrides["muster_by"] = (clock.now() + timedelta(days=4)).isoformat()

    response = await client.post(
        "/v1/alerts", json=alert_body([grid], **overrides), headers=world.auth["organizer_x"]
    )

    assert_problem(response, status, code)
    db = Reader(app)
    assert (await db.count(Alert), await db.count(Activity), await db.count(Notification)) == (
        0,
        0,
        0,
    )


async def test_grids_out_of_the_callers_reach_are_no_grids(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)

    for who in ("organizer_y", "other_admin"):
        response = await client.post("/v1/alerts", json=alert_body([grid]), headers=world.auth[who])
        assert_problem(response, 404, "grid_not_found")
    assert await Reader(app).count(Alert) == 0


async def test_standing_down_tells_those_coming_and_cancels_a_muster_nobody_reached(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a)
    await enrol_row(session, grid, world.volunteer_b)
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    url = f"/v1/alerts/{alert['id']}"
    await client.put(
        f"{url}/response", json={"answer": "coming"}, headers=world.auth["volunteer_a"]
    )
    await client.put(
        f"{url}/response", json={"answer": "not_coming"}, headers=world.auth["volunteer_b"]
    )

    down = await client.post(
        f"{url}/stand-down", json={"reason": "水位回落"}, headers=world.auth["organizer_x"]
    )

    assert down.status_code == 200, down.text
    assert down.json()["status"] == "stood_down"
    assert down.json()["escalate_at"] is None
    kinds_a = [n["kind"] for n in await inbox(client, app, world.volunteer_a)]
    assert kinds_a == ["emergency.stood_down", "emergency.callout"]
    assert [n["kind"] for n in await inbox(client, app, world.volunteer_b)] == ["emergency.callout"]
    activity = await Reader(app).get(Activity, uuid.UUID(alert["activity_id"]))
    assert activity.status == ActivityStatus.cancelled
    assert await audit_of(Reader(app), alert["id"]) == ["alert_raised", "alert_stood_down"]

    late = await client.put(
        f"{url}/response", json={"answer": "not_coming"}, headers=world.auth["volunteer_a"]
    )
    assert_problem(late, 409, "alert_closed")
    again = await client.post(
        f"{url}/stand-down", json={"reason": "again"}, headers=world.auth["organizer_x"]
    )
    assert_problem(again, 409, "alert_closed")
    escalate = await client.post(f"{url}/escalate", headers=world.auth["organizer_x"])
    assert_problem(escalate, 409, "alert_closed")
    stored = await Reader(app).get(Response, (uuid.UUID(alert["id"]), world.volunteer_a.id))
    assert stored.answer == "coming"


async def test_standing_down_after_check_ins_finishes_the_muster_at_that_moment(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a)
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    activity = await Reader(app).get(Activity, uuid.UUID(alert["activity_id"]))
    checked_in = await check_in(client, app, world.volunteer_a, activity)
    assert checked_in.status_code == 201, checked_in.text

    with clock.travel(clock.now() + timedelta(minutes=50)):
        down = await client.post(
            f"/v1/alerts/{alert['id']}/stand-down",
            json={"reason": "完成"},
            headers=auth(app, world.organizer_x),
        )
    assert down.status_code == 200, down.text
    finished = await Reader(app).get(Activity, uuid.UUID(alert["activity_id"]))
    assert finished.status == ActivityStatus.finished
    assert finished.ends_at < activity.ends_at


async def test_escalation_by_hand_widens_to_the_neighbouring_grids_then_the_station(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    from tests.activities.support import make_activity, sign_up_row
    from tests.builders import make_unit

    grid = await make_grid(session, world.point_x, world.organizer_x)
    neighbour = await make_grid(
        session, await make_unit(session, world.region, parent=world.station_x), world.organizer_x
    )
    await enrol_row(session, grid, world.volunteer_a)
    await enrol_row(session, neighbour, world.volunteer_b, skills=["medical"])
    served = await make_volunteer(session, world.region, name="志愿者丙")
    await sign_up_row(
        session, await make_activity(session, world.station_x, world.organizer_x), served
    )
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    url = f"/v1/alerts/{alert['id']}"

    keyed = {**world.auth["organizer_x"], "Idempotency-Key": "escalate-1"}
    first = await client.post(f"{url}/escalate", headers=keyed)
    assert first.status_code == 200, first.text
    assert first.json()["wave"] == "neighbours"
    # A retry with the key answers what the first call did; it calls no further wave.
    retried = await client.post(f"{url}/escalate", headers=keyed)
    assert retried.json() == first.json()
    assert (await Reader(app).get(Alert, uuid.UUID(alert["id"]))).wave == "neighbours"
    assert first.json()["counts"]["called"] == 2
    assert {g["wave"] for g in first.json()["grids"]} == {"grids", "neighbours"}
    assert [n["kind"] for n in await inbox(client, app, world.volunteer_b)] == ["emergency.callout"]
    second = await client.post(f"{url}/escalate", headers=world.auth["organizer_x"])
    assert second.json()["wave"] == "station"
    assert second.json()["counts"]["called"] == 3
    assert second.json()["escalate_at"] is None
    assert len(await inbox(client, app, served)) == 1
    assert len(await inbox(client, app, world.volunteer_a)) == 1
    third = await client.post(f"{url}/escalate", headers=world.auth["organizer_x"])
    assert_problem(third, 409, "alert_fully_escalated")
    assert await audit_of(Reader(app), alert["id"]) == [
        "alert_raised",
        "alert_escalated",
        "alert_escalated",
    ]
    activity = await Reader(app).get(Activity, uuid.UUID(alert["activity_id"]))
    assert activity.capacity >= 3
    assert (await Reader(app).get(Alert, uuid.UUID(alert["id"]))).status == AlertStatus.open
