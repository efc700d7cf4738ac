"""The service record (`GET /v1/me/record`) in the groups of the 2020 national rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.activities.hours.support import assert_problem, checkin_hours, make_activity
from tests.volunteers.support import HOUR, approved_hours


async def test_the_record_groups_basic_information_service_and_empty_sections(
    session: AsyncSession, client: Any, world: Any
) -> None:
    world.volunteer_a.id_type = "resident_id"
    world.volunteer_a.id_number = "11010519491231002X"
    world.volunteer_a.phone = "13812345678"
    session.add(world.volunteer_a)
    await session.commit()
    activity, record = await approved_hours(session, client, world, world.volunteer_a, 90)
    pending = await make_activity(session, world.station_x, world.organizer_x)
    await checkin_hours(session, pending, world.volunteer_a, minutes=60)

    response = await client.get("/v1/me/record", headers=world.auth["volunteer_a"])

    assert response.status_code == 200
    body = response.json()
    basic = body["basic_information"]
    assert basic["name"] == "志愿者甲"
    assert basic["id_number"] == "11010519491231002X"
    assert basic["phone"] == "13812345678"
    assert basic["volunteer_no"] == world.volunteer_a.volunteer_no
    assert basic["region_name"] == "吴江区"
    assert body["service"]["total_minutes"] == 90
    assert body["service"]["activity_count"] == 1
    [item] = body["service"]["items"]
    assert item["hours_record_id"] == str(record.id)
    assert item["title"] == "清洁家园"
    assert item["category_label"] == "卫生环保"
    assert item["place"] == activity.address
    assert item["minutes"] == 90
    assert item["organizer"] == {"id": str(world.station_x.id), "name": "站X"}
    assert item["service_date"] == record.service_date.isoformat()
    assert (body["training"], body["commendations"], body["evaluations"]) == ([], [], [])
    assert body["star"] == {
        "level": 0,
        "approved_minutes": 90,
        "thresholds_hours": [100, 300, 600, 1000, 1500],
        "next_level": 1,
        "minutes_to_next_level": 100 * HOUR - 90,
    }


async def test_the_record_is_the_callers_own(
    session: AsyncSession, client: Any, world: Any
) -> None:
    await approved_hours(session, client, world, world.volunteer_a, 90)

    theirs = await client.get("/v1/me/record", headers=world.auth["volunteer_b"])
    staff = await client.get("/v1/me/record", headers=world.auth["organizer_x"])

    assert theirs.json()["service"] == {"total_minutes": 0, "activity_count": 0, "items": []}
    assert_problem(staff, 403, "forbidden")


async def test_the_record_schema_declares_the_shape_of_the_empty_sections(app: Any) -> None:
    schemas = app.openapi()["components"]["schemas"]

    assert set(schemas["TrainingItem"]["properties"]) == {
        "title",
        "organizer",
        "trained_on",
        "minutes",
    }
    assert "awarded_by" in schemas["CommendationItem"]["properties"]
    assert "evaluator" in schemas["EvaluationItem"]["properties"]
