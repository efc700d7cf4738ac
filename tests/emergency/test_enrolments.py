"""A grid's team: volunteers enrol with skills and availability, staff reaching the grid
confirm or refuse, volunteers withdraw and may ask again."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.emergency.models import Enrolment, EnrolmentStatus
from tests.emergency.support import Reader, assert_problem, audit_of, enrol_row, make_grid

ENROL = {"skills": ["first_aid", "swimming"], "availability": ["evenings", "weekends"]}


async def test_a_volunteer_enrols_staff_confirm_and_the_volunteer_sees_it(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)

    asked = await client.post(
        f"/v1/grids/{grid.id}/enrolments", json=ENROL, headers=world.auth["volunteer_a"]
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "pending"
    enrolment_id = asked.json()["id"]
    team = await client.get(
        f"/v1/grids/{grid.id}/enrolments",
        params={"status": "pending"},
        headers=world.auth["organizer_x"],
    )
    assert [m["volunteer_name"] for m in team.json()["items"]] == ["志愿者甲"]

    confirmed = await client.post(
        f"/v1/grid-enrolments/{enrolment_id}/confirm", json={}, headers=world.auth["organizer_x"]
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    mine = await client.get("/v1/me/grid-enrolments", headers=world.auth["volunteer_a"])
    assert [(e["grid_name"], e["status"], e["skills"]) for e in mine.json()] == [
        ("点X", "confirmed", ["first_aid", "swimming"])
    ]
    assert await audit_of(Reader(app), enrolment_id) == ["enrolment_confirmed"]


async def test_anytime_stands_alone_and_a_skill_named_twice_is_refused(
    session: AsyncSession, client: Any, world: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    twice = await client.post(
        f"/v1/grids/{grid.id}/enrolments",
        json={"skills": ["driving", "driving"], "availability": ["anytime"]},
        headers=world.auth["volunteer_a"],
    )
    assert_problem(twice, 422, "validation_failed")
    unknown = await client.post(
        f"/v1/grids/{grid.id}/enrolments",
        json={"skills": ["juggling"], "availability": ["anytime"]},
        headers=world.auth["volunteer_a"],
    )
    assert_problem(unknown, 422, "validation_failed")

    asked = await client.post(
        f"/v1/grids/{grid.id}/enrolments",
        json={"skills": [], "availability": ["weekends", "anytime"]},
        headers=world.auth["volunteer_a"],
    )
    assert asked.json()["availability"] == ["anytime"]


async def test_refused_then_asking_again_reopens_the_one_enrolment(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    enrolment = await enrol_row(session, grid, world.volunteer_a, status=EnrolmentStatus.pending)

    refused = await client.post(
        f"/v1/grid-enrolments/{enrolment.id}/refuse",
        json={"reason": "不在本网格居住"},
        headers=world.auth["station_admin_x"],
    )
    assert refused.json()["status"] == "refused"
    assert refused.json()["decision_reason"] == "不在本网格居住"
    again = await client.post(
        f"/v1/grids/{grid.id}/enrolments", json=ENROL, headers=world.auth["volunteer_a"]
    )
    assert again.status_code == 201
    assert again.json()["id"] == str(enrolment.id)
    assert again.json()["status"] == "pending"
    assert await Reader(app).count(Enrolment) == 1
    assert await audit_of(Reader(app), enrolment.id) == ["enrolment_refused"]


async def test_decisions_and_enrolments_are_refused_out_of_turn(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    enrolment = await enrol_row(session, grid, world.volunteer_a)

    twice = await client.post(
        f"/v1/grids/{grid.id}/enrolments", json=ENROL, headers=world.auth["volunteer_a"]
    )
    assert_problem(twice, 409, "already_enrolled")
    decided = await client.post(
        f"/v1/grid-enrolments/{enrolment.id}/confirm", json={}, headers=world.auth["organizer_x"]
    )
    assert_problem(decided, 409, "enrolment_not_pending")
    for who in ("organizer_y", "other_admin"):
        hidden = await client.post(
            f"/v1/grid-enrolments/{enrolment.id}/refuse", json={}, headers=world.auth[who]
        )
        assert_problem(hidden, 404, "enrolment_not_found")
    team = await client.get(f"/v1/grids/{grid.id}/enrolments", headers=world.auth["organizer_y"])
    assert_problem(team, 403, "not_permitted_on_unit")
    others = await client.post(
        f"/v1/grid-enrolments/{enrolment.id}/withdraw", headers=world.auth["volunteer_b"]
    )
    assert_problem(others, 404, "enrolment_not_found")
    stored = await Reader(app).get(Enrolment, enrolment.id)
    assert stored.status == EnrolmentStatus.confirmed


async def test_a_volunteer_withdraws_once(session: AsyncSession, client: Any, world: Any) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    enrolment = await enrol_row(session, grid, world.volunteer_a)

    left = await client.post(
        f"/v1/grid-enrolments/{enrolment.id}/withdraw", headers=world.auth["volunteer_a"]
    )
    assert left.json()["status"] == "withdrawn"
    again = await client.post(
        f"/v1/grid-enrolments/{enrolment.id}/withdraw", headers=world.auth["volunteer_a"]
    )
    assert_problem(again, 409, "enrolment_not_active")
