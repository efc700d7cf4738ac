"""Projects (项目库) and the region's check-in policy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.activities.models import ActivityPolicy, Project
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
from tests.orgs.support import walk


async def create_project(client: Any, app: Any, staff: Any, unit: Any, **fields: Any) -> Any:
    body = {"org_unit_id": str(unit.id), "title": "河长制宣传", "category": "environment"}
    body.update(fields)
    return await client.post("/v1/projects", json=body, headers=auth(app, staff))


async def test_organizers_create_and_edit_projects_on_their_units(
    client: Any, app: Any, world: Any
) -> None:
    created = await create_project(client, app, world.organizer_x, world.point_x)
    assert created.status_code == 201, created.text
    project = created.json()
    url = f"/v1/projects/{project['id']}"

    edited = await client.patch(
        url, json={"title": "河长制宣传进社区"}, headers=auth(app, world.organizer_x)
    )
    foreign_edit = await client.patch(
        url, json={"title": "x"}, headers=auth(app, world.organizer_y)
    )
    read = await client.get(url, headers=auth(app, world.volunteer_a))
    other_region = await client.get(url, headers=auth(app, world.other_volunteer))

    assert edited.json()["title"] == "河长制宣传进社区"
    assert_problem(foreign_edit, 403, "not_permitted_on_unit")
    assert read.json()["title"] == "河长制宣传进社区"
    assert_problem(other_region, 404, "project_not_found")


async def test_projects_are_refused_outside_the_callers_reach(
    client: Any, app: Any, world: Any
) -> None:
    foreign = await create_project(client, app, world.organizer_y, world.station_x)
    volunteer = await create_project(client, app, world.volunteer_a, world.station_x)
    bad = await create_project(client, app, world.organizer_x, world.station_x, category="x")

    assert_problem(foreign, 403, "not_permitted_on_unit")
    assert_problem(volunteer, 403, "forbidden")
    assert_problem(bad, 422, "validation_failed")
    assert await Reader(app).count(Project) == 0


async def test_projects_list_by_unit_subtree_and_category(
    client: Any, app: Any, world: Any
) -> None:
    at_point = (await create_project(client, app, world.organizer_x, world.point_x)).json()
    at_y = (
        await create_project(client, app, world.organizer_y, world.station_y, category="culture")
    ).json()
    headers = auth(app, world.volunteer_a)

    everything = await walk(client, "/v1/projects", headers)
    under_x = await walk(client, "/v1/projects", headers, {"unit_id": str(world.institute_x.id)})
    culture = await walk(client, "/v1/projects", headers, {"category": "culture"})

    assert [p["id"] for p in everything] == [at_point["id"], at_y["id"]]
    assert [p["id"] for p in under_x] == [at_point["id"]]
    assert [p["id"] for p in culture] == [at_y["id"]]


async def test_activities_of_a_project_are_listed_together(
    client: Any, app: Any, world: Any
) -> None:
    project = (await create_project(client, app, world.organizer_x, world.station_x)).json()
    start = minute(clock.now()) + timedelta(days=1)
    body = {
        "org_unit_id": str(world.station_x.id),
        "project_id": project["id"],
        "title": "第一次宣传",
        "category": "environment",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "latitude": 31.16,
        "longitude": 120.64,
        "address": "松陵",
        "capacity": 5,
    }
    headers = auth(app, world.organizer_x)
    created = await client.post("/v1/activities", json=body, headers=headers)
    await client.post(f"/v1/activities/{created.json()['id']}/publish", headers=headers)

    listed = await client.get(
        "/v1/activities",
        params={"project_id": project["id"]},
        headers=auth(app, world.volunteer_a),
    )

    assert [a["id"] for a in listed.json()["items"]] == [created.json()["id"]]


# The region's check-in policy


async def test_the_policy_has_defaults_that_a_center_admin_changes(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    defaults = await client.get("/v1/activity-policy", headers=auth(app, world.volunteer_a))
    assert defaults.json() == {
        "checkin_opens_before_min": 30,
        "checkout_closes_after_min": 60,
        "daily_cap_minutes": 720,
        "impossible_travel_km": 50,
        "shared_coordinates_threshold": 5,
    }

    refused = await client.patch(
        "/v1/activity-policy",
        json={"checkin_opens_before_min": 60},
        headers=auth(app, world.station_admin_x),
    )
    assert_problem(refused, 403, "center_admin_required")
    assert await Reader(app).count(ActivityPolicy) == 0

    changed = await client.patch(
        "/v1/activity-policy",
        json={"checkin_opens_before_min": 60},
        headers=auth(app, world.center_admin),
    )
    assert changed.json()["checkin_opens_before_min"] == 60
    other = await client.get("/v1/activity-policy", headers=auth(app, world.other_volunteer))
    assert other.json()["checkin_opens_before_min"] == 30

    # Check-in now opens an hour before the start in this region.
    start = minute(clock.now()) + timedelta(minutes=50)
    activity = await make_activity(session, world.station_x, world.organizer_x, starts_at=start)
    await sign_up_row(session, activity, world.volunteer_a)
    assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201


async def test_policy_values_are_bounded(client: Any, app: Any, world: Any) -> None:
    response = await client.patch(
        "/v1/activity-policy",
        json={"daily_cap_minutes": 5000},
        headers=auth(app, world.center_admin),
    )

    assert_problem(response, 422, "validation_failed")
