"""Teams: on a unit, of a standing category or a named custom one, managed per subtree."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.orgs.models import Team, TeamCategory
from tests.builders import World
from tests.orgs.support import Reader, assert_problem, walk


async def create_team(
    client: httpx.AsyncClient, world: World, who: str = "center_admin", **body: Any
) -> httpx.Response:
    payload = {"org_unit_id": str(world.station_x.id), "name": "助学队", "category": "education"}
    payload.update(body)
    return await client.post("/v1/teams", json=payload, headers=world.auth[who])


async def test_station_admin_creates_a_standing_team_on_its_station(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    response = await create_team(client, world, "station_admin_x", description="周末课业辅导")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["category"], body["category_label"]) == ("education", "助学支教")
    assert body["custom_category"] is None
    row = await db.get(Team, uuid.UUID(body["id"]))
    assert (row.region_id, row.org_unit_id) == (world.region.id, world.station_x.id)
    assert row.description == "周末课业辅导"


async def test_a_custom_team_names_its_category(client: httpx.AsyncClient, world: World) -> None:
    response = await create_team(client, world, category="custom", custom_category="防诈宣传")
    assert response.status_code == 201
    assert response.json()["category_label"] == "防诈宣传"


async def test_category_and_custom_name_must_agree(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    bodies: list[dict[str, Any]] = [
        {"category": "custom"},
        {"category": "custom", "custom_category": None},
        {"category": "law", "custom_category": "普法"},
    ]
    for body in bodies:
        with subtests.test(body=body):
            response = await create_team(client, world, **body)
            assert_problem(response, 422, "team_category_invalid")
            assert await db.count(Team) == 0


async def test_nobody_creates_teams_outside_its_subtree(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    cases = [
        ("station_admin_x", "station_y", 403, "not_permitted_on_unit"),
        ("institute_admin_x", "institute_y", 403, "not_permitted_on_unit"),
        ("organizer_x", "station_x", 403, "not_permitted_on_unit"),
        ("other_admin", "station_x", 404, "org_unit_not_found"),
        ("volunteer_a", "station_x", 403, "forbidden"),
    ]
    for who, unit, status, code in cases:
        with subtests.test(who=who, unit=unit):
            response = await create_team(
                client, world, who, org_unit_id=str(getattr(world, unit).id)
            )
            assert_problem(response, status, code)
            assert await db.count(Team) == 0


async def test_an_invalid_team_is_refused(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    bodies: list[dict[str, Any]] = [
        {"category": "sports"},
        {"category": 3},
        {"name": ""},
        {"name": "队" * 101},
        {"description": "d" * 1001},
        {"custom_category": "c" * 51, "category": "custom"},
        {"org_unit_id": "12345"},
        {"members": []},
    ]
    for body in bodies:
        with subtests.test(body=body):
            assert_problem(await create_team(client, world, **body), 422, "validation_failed")
            assert await db.count(Team) == 0


async def test_team_is_read_by_its_region_only(client: httpx.AsyncClient, world: World) -> None:
    team_id = (await create_team(client, world)).json()["id"]
    mine = await client.get(f"/v1/teams/{team_id}", headers=world.auth["volunteer_b"])
    assert mine.status_code == 200
    assert mine.json()["name"] == "助学队"
    theirs = await client.get(f"/v1/teams/{team_id}", headers=world.auth["other_volunteer"])
    assert_problem(theirs, 404, "team_not_found")


async def test_changing_a_team_to_custom_needs_the_custom_name(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    team_id = (await create_team(client, world)).json()["id"]
    url = f"/v1/teams/{team_id}"
    auth = world.auth["institute_admin_x"]
    refused = await client.patch(url, json={"category": "custom"}, headers=auth)
    assert_problem(refused, 422, "team_category_invalid")
    assert (await db.get(Team, uuid.UUID(team_id))).category == TeamCategory.education

    custom = await client.patch(
        url, json={"category": "custom", "custom_category": "老年关爱"}, headers=auth
    )
    assert custom.json()["category_label"] == "老年关爱"
    renamed = await client.patch(url, json={"name": "银龄队"}, headers=auth)
    assert (renamed.json()["name"], renamed.json()["custom_category"]) == ("银龄队", "老年关爱")

    standing = await client.patch(url, json={"category": "health"}, headers=auth)
    assert standing.json()["category_label"] == "医疗健身"
    row = await db.get(Team, uuid.UUID(team_id))
    assert (row.category, row.custom_category) == (TeamCategory.health, None)


async def test_nobody_changes_a_team_outside_its_subtree(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    team_id = (await create_team(client, world, org_unit_id=str(world.station_y.id))).json()["id"]
    cases = [
        ("station_admin_x", 403, "not_permitted_on_unit"),
        ("institute_admin_x", 403, "not_permitted_on_unit"),
        ("organizer_y", 403, "not_permitted_on_unit"),
        ("other_admin", 404, "team_not_found"),
        ("volunteer_a", 403, "forbidden"),
    ]
    for who, status, code in cases:
        with subtests.test(who=who):
            response = await client.patch(
                f"/v1/teams/{team_id}", json={"name": "改名"}, headers=world.auth[who]
            )
            assert_problem(response, status, code)
            assert (await db.get(Team, uuid.UUID(team_id))).name == "助学队"


async def test_teams_are_listed_by_unit_and_category_in_pages(
    client: httpx.AsyncClient, world: World
) -> None:
    for category in ("theory", "culture", "law"):
        await create_team(client, world, category=category, name=f"{category}队")
    await create_team(client, world, org_unit_id=str(world.station_y.id), category="law")
    auth = world.auth["volunteer_a"]

    everything = await walk(client, "/v1/teams", auth)
    assert len(everything) == 4
    on_x = await walk(client, "/v1/teams", auth, {"org_unit_id": str(world.station_x.id)})
    assert {t["category"] for t in on_x} == {"theory", "culture", "law"}
    law = await walk(client, "/v1/teams", auth, {"category": "law"})
    assert {t["org_unit_id"] for t in law} == {str(world.station_x.id), str(world.station_y.id)}
    elsewhere = await client.get("/v1/teams", headers=world.auth["other_volunteer"])
    assert elsewhere.json() == {"items": [], "next_cursor": None}
