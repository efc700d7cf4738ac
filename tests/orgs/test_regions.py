"""Regions: each principal sees its own; only the region's center admin changes it."""

from __future__ import annotations

import httpx
import pytest

from app.orgs.models import Region
from tests.builders import World
from tests.orgs.support import Reader, assert_problem


async def test_a_principal_lists_only_its_own_region(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    for who in ("volunteer_a", "organizer_x", "center_admin", "other_admin"):
        with subtests.test(who=who):
            response = await client.get("/v1/regions", headers=world.auth[who])
            assert response.status_code == 200
            body = response.json()
            own = world.other_region if who.startswith("other") else world.region
            assert [r["id"] for r in body["items"]] == [str(own.id)]
            assert body["items"][0]["timezone"] == "Asia/Shanghai"
            assert body["next_cursor"] is None


async def test_another_regions_id_is_not_found(client: httpx.AsyncClient, world: World) -> None:
    own = await client.get(f"/v1/regions/{world.region.id}", headers=world.auth["volunteer_a"])
    assert own.json()["name"] == "吴江区"
    other = await client.get(
        f"/v1/regions/{world.other_region.id}", headers=world.auth["volunteer_a"]
    )
    assert_problem(other, 404, "region_not_found")


async def test_center_admin_renames_the_region_and_sets_its_time_zone(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    response = await client.patch(
        f"/v1/regions/{world.region.id}",
        json={"name": "吴江区（新）", "timezone": "Asia/Urumqi"},
        headers=world.auth["center_admin"],
    )
    assert response.status_code == 200
    assert response.json()["timezone"] == "Asia/Urumqi"
    row = await db.get(Region, world.region.id)
    assert (row.name, row.timezone) == ("吴江区（新）", "Asia/Urumqi")


async def test_an_unknown_time_zone_is_refused(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    for zone in ("Mars/Olympus", "../../etc/passwd", "", "UTC+8", "Asia/Shanghai\n"):
        with subtests.test(zone=zone):
            response = await client.patch(
                f"/v1/regions/{world.region.id}",
                json={"timezone": zone},
                headers=world.auth["center_admin"],
            )
            body = assert_problem(response, 422, "validation_failed")
            assert body["errors"][0]["field"] == "body.timezone"
            assert (await db.get(Region, world.region.id)).timezone == "Asia/Shanghai"


async def test_nobody_but_its_center_admin_changes_a_region(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    cases = [
        ("institute_admin_x", 403, "center_admin_required"),
        ("station_admin_x", 403, "center_admin_required"),
        ("organizer_x", 403, "center_admin_required"),
        ("other_admin", 404, "region_not_found"),
        ("volunteer_a", 403, "forbidden"),
    ]
    for who, status, code in cases:
        with subtests.test(who=who):
            response = await client.patch(
                f"/v1/regions/{world.region.id}", json={"name": "改名"}, headers=world.auth[who]
            )
            assert_problem(response, status, code)
            assert (await db.get(Region, world.region.id)).name == "吴江区"


async def test_a_region_name_may_not_be_cleared(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    response = await client.patch(
        f"/v1/regions/{world.region.id}", json={"name": None}, headers=world.auth["center_admin"]
    )
    assert_problem(response, 422, "validation_failed")
    row = await db.get(Region, world.region.id)
    assert row.name == "吴江区"


async def test_listing_regions_needs_a_token(client: httpx.AsyncClient, world: World) -> None:
    assert_problem(await client.get("/v1/regions"), 401, "unauthorized")
