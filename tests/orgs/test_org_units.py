"""Org units: the tree's shape, who may change which subtree, and the region boundary."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.orgs.models import OrgUnit, UnitKind
from tests.builders import World
from tests.orgs.support import Reader, assert_problem, walk


def new_unit(parent: OrgUnit, kind: UnitKind, **extra: Any) -> dict[str, Any]:
    return {"parent_id": str(parent.id), "kind": kind.value, "name": "新单位", **extra}


async def test_center_admin_creates_an_institute_with_its_place_and_seven_haves(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    response = await client.post(
        "/v1/org-units",
        json=new_unit(
            world.center,
            UnitKind.institute,
            address="苏州市吴江区松陵镇",
            latitude=31.1605,
            longitude=120.6452,
            seven_haves={"sign": True, "feature": "运河文化宣讲"},
        ),
        headers=world.auth["center_admin"],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["parent_id"] == str(world.center.id)
    assert body["kind"] == "institute"
    assert body["seven_haves"] == {
        "sign": True,
        "service_post": False,
        "team": False,
        "rules": False,
        "plan": False,
        "activities": False,
        "feature": "运河文化宣讲",
    }
    row = await db.get(OrgUnit, uuid.UUID(body["id"]))
    assert row.region_id == world.region.id
    assert row.path == f"{world.center.path}{row.id}/"
    assert (row.latitude, row.longitude) == (31.1605, 120.6452)


async def test_an_admin_creates_units_within_its_subtree(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    cases = [
        ("institute_admin_x", "institute_x", UnitKind.station),
        ("institute_admin_x", "station_x", UnitKind.point),
        ("station_admin_x", "station_x", UnitKind.point),
    ]
    for who, parent, kind in cases:
        with subtests.test(who=who, parent=parent):
            response = await client.post(
                "/v1/org-units",
                json=new_unit(getattr(world, parent), kind),
                headers=world.auth[who],
            )
            assert response.status_code == 201, response.text
            assert response.json()["parent_id"] == str(getattr(world, parent).id)


async def test_nobody_creates_units_outside_its_subtree(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    cases = [
        ("station_admin_x", "station_y", UnitKind.point, 403, "not_permitted_on_unit"),
        ("station_admin_x", "institute_x", UnitKind.station, 403, "not_permitted_on_unit"),
        ("institute_admin_x", "institute_y", UnitKind.station, 403, "not_permitted_on_unit"),
        ("institute_admin_x", "center", UnitKind.institute, 403, "not_permitted_on_unit"),
        ("organizer_x", "station_x", UnitKind.point, 403, "not_permitted_on_unit"),
        ("other_admin", "center", UnitKind.institute, 404, "org_unit_not_found"),
        ("volunteer_a", "station_x", UnitKind.point, 403, "forbidden"),
    ]
    before = await db.count(OrgUnit)
    for who, parent, kind, status, code in cases:
        with subtests.test(who=who, parent=parent):
            response = await client.post(
                "/v1/org-units",
                json=new_unit(getattr(world, parent), kind),
                headers=world.auth[who],
            )
            assert_problem(response, status, code)
            assert await db.count(OrgUnit) == before


async def test_a_unit_kind_must_follow_its_parent(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    cases = [
        ("center", UnitKind.station),
        ("center", UnitKind.center),
        ("institute_x", UnitKind.point),
        ("station_x", UnitKind.institute),
        ("point_x", UnitKind.point),
    ]
    before = await db.count(OrgUnit)
    for parent, kind in cases:
        with subtests.test(parent=parent, kind=kind):
            response = await client.post(
                "/v1/org-units",
                json=new_unit(getattr(world, parent), kind),
                headers=world.auth["center_admin"],
            )
            assert_problem(response, 422, "unit_kind_invalid")
            assert await db.count(OrgUnit) == before


async def test_a_second_center_cannot_be_created(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    response = await client.post(
        "/v1/org-units",
        json={"kind": "center", "name": "第二中心"},
        headers=world.auth["center_admin"],
    )
    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"][0]["field"] == "body.parent_id"
    assert await db.count(OrgUnit, OrgUnit.parent_id.is_(None)) == 2  # one per region


async def test_anyone_of_the_region_reads_any_of_its_units(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    for who in ("volunteer_a", "organizer_y", "station_admin_x"):
        with subtests.test(who=who):
            response = await client.get(
                f"/v1/org-units/{world.station_y.id}", headers=world.auth[who]
            )
            assert response.status_code == 200
            assert response.json()["name"] == "站Y"


async def test_another_regions_unit_is_not_found(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    for who in ("other_volunteer", "other_admin"):
        with subtests.test(who=who):
            response = await client.get(
                f"/v1/org-units/{world.station_x.id}", headers=world.auth[who]
            )
            assert_problem(response, 404, "org_unit_not_found")


async def test_an_unknown_unit_is_not_found(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(f"/v1/org-units/{uuid.uuid4()}", headers=world.auth["volunteer_a"])
    assert_problem(response, 404, "org_unit_not_found")


async def test_station_admin_updates_its_station(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    response = await client.patch(
        f"/v1/org-units/{world.station_x.id}",
        json={
            "name": "站X（新址）",
            "address": "新街1号",
            "latitude": 31.2,
            "longitude": 120.7,
            "seven_haves": {"sign": True, "plan": True},
        },
        headers=world.auth["station_admin_x"],
    )
    assert response.status_code == 200, response.text
    row = await db.get(OrgUnit, world.station_x.id)
    assert (row.name, row.address) == ("站X（新址）", "新街1号")
    assert (row.latitude, row.longitude) == (31.2, 120.7)
    assert row.seven_haves["sign"] is True
    assert row.seven_haves["plan"] is True


async def test_an_update_changes_only_the_seven_haves_it_names(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"/v1/org-units/{world.station_x.id}"
    auth = world.auth["station_admin_x"]
    await client.patch(url, json={"seven_haves": {"sign": True, "feature": "非遗"}}, headers=auth)
    response = await client.patch(url, json={"seven_haves": {"team": True}}, headers=auth)
    seven = response.json()["seven_haves"]
    assert (seven["sign"], seven["team"], seven["feature"]) == (True, True, "非遗")
    cleared = await client.patch(url, json={"seven_haves": {"feature": None}}, headers=auth)
    assert cleared.json()["seven_haves"]["feature"] is None
    assert cleared.json()["seven_haves"]["sign"] is True


async def test_coordinates_can_be_cleared_together(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    response = await client.patch(
        f"/v1/org-units/{world.point_x.id}",
        json={"latitude": None, "longitude": None},
        headers=world.auth["institute_admin_x"],
    )
    assert response.status_code == 200
    row = await db.get(OrgUnit, world.point_x.id)
    assert row.latitude is None
    assert row.longitude is None


async def test_nobody_changes_units_outside_its_subtree(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    cases = [
        ("station_admin_x", "station_y", 403, "not_permitted_on_unit"),
        ("station_admin_x", "institute_x", 403, "not_permitted_on_unit"),
        ("institute_admin_x", "station_y", 403, "not_permitted_on_unit"),
        ("organizer_x", "station_x", 403, "not_permitted_on_unit"),
        ("other_admin", "station_x", 404, "org_unit_not_found"),
        ("volunteer_a", "station_x", 403, "forbidden"),
    ]
    for who, unit, status, code in cases:
        with subtests.test(who=who, unit=unit):
            target = getattr(world, unit)
            response = await client.patch(
                f"/v1/org-units/{target.id}", json={"name": "被改了"}, headers=world.auth[who]
            )
            assert_problem(response, status, code)
            assert (await db.get(OrgUnit, target.id)).name == target.name


async def test_institute_admin_reaches_the_points_of_its_stations(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.patch(
        f"/v1/org-units/{world.point_x.id}",
        json={"name": "点X改"},
        headers=world.auth["institute_admin_x"],
    )
    assert response.status_code == 200
    assert response.json()["name"] == "点X改"


async def test_an_invalid_unit_update_changes_nothing(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    bodies: list[dict[str, Any]] = [
        {"latitude": 31.2},
        {"latitude": 31.2, "longitude": None},
        {"latitude": 91.0, "longitude": 120.0},
        {"latitude": 31.2, "longitude": 10.0},
        {"latitude": "31.2", "longitude": "120.6"},
        {"latitude": float("nan"), "longitude": 120.6},
        {"seven_haves": {"sign": "yes"}},
        {"seven_haves": {"sign": 1}},
        {"seven_haves": {"parking": True}},
        {"seven_haves": None},
        {"name": None},
        {"name": "   "},
        {"name": "x" * 101},
        {"address": "x" * 201},
        {"name": "换行\n名字"},
        {"kind": "point"},
        {"parent_id": None},
    ]
    for body in bodies:
        with subtests.test(body=body):
            response = await client.patch(
                f"/v1/org-units/{world.station_x.id}",
                content=json.dumps(body),
                headers={**world.auth["center_admin"], "Content-Type": "application/json"},
            )
            assert_problem(response, 422, "validation_failed")
            row = await db.get(OrgUnit, world.station_x.id)
            assert (row.name, row.latitude, row.seven_haves) == ("站X", 31.16, {})


async def test_listing_units_pages_through_the_region_once(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    items = await walk(client, "/v1/org-units", world.auth["volunteer_a"])
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids))
    expected = await db.all(select(OrgUnit.id).where(OrgUnit.region_id == world.region.id))
    assert set(ids) == {str(i) for i in expected}
    assert str(world.other_center.id) not in ids


async def test_units_are_listed_by_parent_and_by_kind(
    client: httpx.AsyncClient, world: World
) -> None:
    auth = world.auth["organizer_y"]
    children = await client.get(
        "/v1/org-units", params={"parent_id": str(world.center.id)}, headers=auth
    )
    assert {u["name"] for u in children.json()["items"]} == {"所X", "所Y"}
    stations = await client.get("/v1/org-units", params={"kind": "station"}, headers=auth)
    assert {u["name"] for u in stations.json()["items"]} == {"站X", "站Y"}
    elsewhere = await client.get(
        "/v1/org-units", params={"parent_id": str(world.other_center.id)}, headers=auth
    )
    assert elsewhere.json() == {"items": [], "next_cursor": None}


async def test_bad_list_parameters_are_refused(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    cases: list[dict[str, Any]] = [
        {"kind": "village"},
        {"parent_id": "not-a-uuid"},
        {"limit": 0},
        {"limit": 201},
        {"limit": "many"},
    ]
    for params in cases:
        with subtests.test(params=params):
            response = await client.get(
                "/v1/org-units", params=params, headers=world.auth["volunteer_a"]
            )
            assert_problem(response, 422, "validation_failed")
