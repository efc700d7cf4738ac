"""Grids: a point given an area by staff reaching it, read by the region; areas that are
no area refused with nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.emergency.models import EmergencyAudit, Grid
from tests.builders import make_unit
from tests.emergency.support import LAT, LNG, Reader, assert_problem, audit_of, auth, make_grid

SQUARE = [
    {"latitude": LAT, "longitude": LNG},
    {"latitude": LAT + 0.01, "longitude": LNG},
    {"latitude": LAT + 0.01, "longitude": LNG + 0.01},
    {"latitude": LAT, "longitude": LNG + 0.01},
]


async def test_staff_on_the_station_make_its_point_a_polygon_grid_and_it_is_audited(
    client: Any, world: Any, app: Any
) -> None:
    response = await client.post(
        "/v1/grids",
        json={"org_unit_id": str(world.point_x.id), "area": {"shape": "polygon", "points": SQUARE}},
        headers=world.auth["organizer_x"],
    )

    assert response.status_code == 201, response.text
    grid = response.json()
    assert grid["name"] == "点X"
    assert grid["station_id"] == str(world.station_x.id)
    assert grid["shape"] == "polygon"
    assert len(grid["polygon"]) == 4
    assert grid["center"] == pytest.approx({"latitude": LAT + 0.005, "longitude": LNG + 0.005})
    assert await audit_of(Reader(app), grid["id"]) == ["grid_defined"]


async def test_a_grid_is_read_and_listed_by_volunteers_and_staff_of_the_region(
    session: AsyncSession, client: Any, world: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)

    for who in ("volunteer_a", "organizer_y", "center_admin"):
        one = await client.get(f"/v1/grids/{grid.id}", headers=world.auth[who])
        assert one.status_code == 200, one.text
        assert one.json()["radius_m"] == 800
        listed = await client.get(
            "/v1/grids", params={"unit_id": str(world.station_x.id)}, headers=world.auth[who]
        )
        assert [g["id"] for g in listed.json()["items"]] == [str(grid.id)]
    elsewhere = await client.get(
        "/v1/grids", params={"unit_id": str(world.station_y.id)}, headers=world.auth["volunteer_a"]
    )
    assert elsewhere.json()["items"] == []
    other = await client.get(f"/v1/grids/{grid.id}", headers=world.auth["other_volunteer"])
    assert_problem(other, 404, "grid_not_found")


async def test_changing_the_area_to_a_circle_keeps_one_shape_and_is_audited(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)

    response = await client.patch(
        f"/v1/grids/{grid.id}",
        json={"area": {"shape": "polygon", "points": SQUARE[:3]}},
        headers=world.auth["station_admin_x"],
    )

    assert response.status_code == 200, response.text
    assert response.json()["radius_m"] is None
    assert len(response.json()["polygon"]) == 3
    assert await audit_of(Reader(app), grid.id) == ["grid_updated"]


@pytest.mark.parametrize(
    ("area", "status", "code"),
    [
        ({"shape": "polygon", "points": SQUARE[:2]}, 422, "validation_failed"),
        (
            {
                "shape": "polygon",
                "points": [
                    {"latitude": LAT, "longitude": LNG},
                    {"latitude": LAT + 0.01, "longitude": LNG + 0.01},
                    {"latitude": LAT + 0.02, "longitude": LNG + 0.02},
                ],
            },
            422,
            "grid_area_invalid",
        ),
        (
            {"shape": "polygon", "points": [SQUARE[0], SQUARE[2], SQUARE[1], SQUARE[3]]},
            422,
            "grid_area_invalid",
        ),
        (
            {"shape": "polygon", "points": [SQUARE[0], SQUARE[1], SQUARE[0]]},
            422,
            "grid_area_invalid",
        ),
        (
            {"shape": "circle", "center": {"latitude": 91, "longitude": LNG}, "radius_m": 500},
            422,
            "validation_failed",
        ),
        (
            {"shape": "circle", "center": {"latitude": LAT, "longitude": LNG}, "radius_m": -5},
            422,
            "validation_failed",
        ),
        ({"shape": "triangle"}, 422, "validation_failed"),
    ],
    ids=["two-points", "collinear", "crossing", "repeated", "latitude", "radius", "shape"],
)
async def test_an_area_that_encloses_nothing_is_refused_and_no_grid_is_written(
    client: Any, world: Any, app: Any, area: dict[str, Any], status: int, code: str
) -> None:
    response = await client.post(
        "/v1/grids",
        json={"org_unit_id": str(world.point_x.id), "area": area},
        headers=world.auth["organizer_x"],
    )

    assert_problem(response, status, code)
    assert await Reader(app).count(Grid) == 0
    assert await Reader(app).count(EmergencyAudit) == 0


async def test_only_a_point_becomes_a_grid_and_only_once(
    session: AsyncSession, client: Any, world: Any
) -> None:
    circle = {"shape": "circle", "center": {"latitude": LAT, "longitude": LNG}, "radius_m": 500}
    station = await client.post(
        "/v1/grids",
        json={"org_unit_id": str(world.station_x.id), "area": circle},
        headers=world.auth["organizer_x"],
    )
    assert_problem(station, 422, "grid_unit_not_point")

    await make_grid(session, world.point_x, world.organizer_x)
    again = await client.post(
        "/v1/grids",
        json={"org_unit_id": str(world.point_x.id), "area": circle},
        headers=world.auth["organizer_x"],
    )
    assert_problem(again, 409, "grid_already_defined")


async def test_staff_out_of_reach_cannot_define_or_change_a_grid(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    circle = {"shape": "circle", "center": {"latitude": LAT, "longitude": LNG}, "radius_m": 500}
    point_y = await make_unit(session, world.region, parent=world.station_y)
    refused = await client.post(
        "/v1/grids",
        json={"org_unit_id": str(point_y.id), "area": circle},
        headers=world.auth["organizer_x"],
    )
    assert_problem(refused, 403, "not_permitted_on_unit")
    other = await client.post(
        "/v1/grids",
        json={"org_unit_id": str(point_y.id), "area": circle},
        headers=world.auth["other_admin"],
    )
    assert_problem(other, 404, "org_unit_not_found")

    grid = await make_grid(session, world.point_x, world.organizer_x)
    change = await client.patch(
        f"/v1/grids/{grid.id}", json={"area": circle}, headers=auth(app, world.organizer_y)
    )
    assert_problem(change, 403, "not_permitted_on_unit")
    assert (await Reader(app).get(Grid, grid.id)).radius_m == 800
