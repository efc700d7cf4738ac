"""Star levels from cumulative approved hours, with per-region thresholds
(`/v1/regions/{id}/star-levels`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.volunteers.models import StarThresholds
from app.volunteers.stars import level_for, star_level, star_summary
from tests.activities.hours.support import Reader, assert_problem, checkin_hours, make_activity
from tests.volunteers.support import HOUR, approved_hours


@pytest.mark.parametrize(
    ("hours", "level"),
    [(0, 0), (99.99, 0), (100, 1), (299, 1), (300, 2), (600, 3), (1000, 4), (1500, 5), (9999, 5)],
)
def test_star_level_counts_the_default_thresholds_reached(hours: float, level: int) -> None:
    assert level_for(int(hours * HOUR), (100, 300, 600, 1000, 1500)) == level


def test_hours_to_the_next_level_and_none_past_the_last() -> None:
    assert star_summary(250 * HOUR, [100, 300, 600, 1000, 1500]).minutes_to_next_level == (
        50 * HOUR
    )
    top = star_summary(1500 * HOUR, [100, 300, 600, 1000, 1500])
    assert (top.level, top.next_level, top.minutes_to_next_level) == (5, None, None)


async def test_star_level_counts_only_approved_hours_of_the_volunteer(
    session: AsyncSession, client: Any, world: Any
) -> None:
    await approved_hours(session, client, world, world.volunteer_a, 100 * HOUR)
    pending = await make_activity(session, world.station_x, world.organizer_x)
    await checkin_hours(session, pending, world.volunteer_a, minutes=300 * HOUR)
    await approved_hours(session, client, world, world.volunteer_b, 99 * HOUR)

    a = await star_level(session, region_id=world.region.id, volunteer_id=world.volunteer_a.id)
    b = await star_level(session, region_id=world.region.id, volunteer_id=world.volunteer_b.id)

    assert (a, b) == (1, 0)


async def test_a_center_admin_sets_the_regions_thresholds_and_levels_follow(
    session: AsyncSession, client: Any, world: Any
) -> None:
    await approved_hours(session, client, world, world.volunteer_a, 50 * HOUR)
    path = f"/v1/regions/{world.region.id}/star-levels"

    before = await client.get(path, headers=world.auth["volunteer_a"])
    updated = await client.put(
        path, headers=world.auth["center_admin"], json={"hours": [20, 40, 80, 160, 320]}
    )
    after = await client.get(path, headers=world.auth["organizer_x"])
    record = await client.get("/v1/me/record", headers=world.auth["volunteer_a"])

    assert before.json() == {
        "region_id": str(world.region.id),
        "hours": [100, 300, 600, 1000, 1500],
        "is_default": True,
    }
    assert updated.status_code == 200
    assert after.json()["hours"] == [20, 40, 80, 160, 320]
    assert after.json()["is_default"] is False
    assert record.json()["star"]["level"] == 2
    assert record.json()["star"]["minutes_to_next_level"] == 30 * HOUR
    assert (
        await star_level(session, region_id=world.region.id, volunteer_id=world.volunteer_a.id) == 2
    )
    other = await star_level(
        session, region_id=world.other_region.id, volunteer_id=world.other_volunteer.id
    )
    assert other == 0


@pytest.mark.parametrize(
    ("who", "region", "body", "status", "code"),
    [
        ("station_admin_x", "own", [20, 40, 80, 160, 320], 403, "center_admin_required"),
        ("organizer_x", "own", [20, 40, 80, 160, 320], 403, "center_admin_required"),
        ("other_admin", "own", [20, 40, 80, 160, 320], 404, "region_not_found"),
        ("center_admin", "unknown", [20, 40, 80, 160, 320], 404, "region_not_found"),
        ("center_admin", "own", [20, 40, 40, 160, 320], 422, "validation_failed"),
        ("center_admin", "own", [20, 40, 80, 160], 422, "validation_failed"),
        ("center_admin", "own", [0, 40, 80, 160, 320], 422, "validation_failed"),
        ("volunteer_a", "own", [20, 40, 80, 160, 320], 403, "forbidden"),
    ],
)
async def test_bad_threshold_updates_change_nothing(
    client: Any,
    world: Any,
    app: Any,
    who: str,
    region: str,
    body: list[int],
    status: int,
    code: str,
) -> None:
    region_id = world.region.id if region == "own" else uuid.uuid4()

    response = await client.put(
        f"/v1/regions/{region_id}/star-levels", headers=world.auth[who], json={"hours": body}
    )

    assert_problem(response, status, code)
    assert await Reader(app).count(StarThresholds) == 0


async def test_another_regions_thresholds_are_not_found(client: Any, world: Any) -> None:
    response = await client.get(
        f"/v1/regions/{world.region.id}/star-levels", headers=world.auth["other_volunteer"]
    )

    assert_problem(response, 404, "region_not_found")


async def test_setting_the_thresholds_again_replaces_them(client: Any, world: Any) -> None:
    path = f"/v1/regions/{world.region.id}/star-levels"

    await client.put(path, headers=world.auth["center_admin"], json={"hours": [1, 2, 3, 4, 5]})
    again = await client.put(
        path, headers=world.auth["center_admin"], json={"hours": [10, 20, 30, 40, 50]}
    )
    read = await client.get(path, headers=world.auth["volunteer_a"])

    assert again.status_code == 200
    assert read.json() == {
        "region_id": str(world.region.id),
        "hours": [10, 20, 30, 40, 50],
        "is_default": False,
    }
