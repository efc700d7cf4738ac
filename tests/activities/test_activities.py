"""Activities: who may create, edit, publish and cancel them, the edit rules, and the
listings by unit, category, date and distance."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from app.activities.models import Activity, ActivityStatus
from app.activities.service import round_minutes
from app.core import clock
from app.orgs.models import Team, TeamCategory
from tests.activities.support import (
    LAT,
    LNG,
    Reader,
    assert_problem,
    auth,
    check_in,
    make_activity,
    minute,
    north,
    sign_up_row,
)
from tests.orgs.support import walk


def activity_body(unit: Any, **overrides: Any) -> dict[str, Any]:
    start = minute(clock.now()) + timedelta(days=2)
    body: dict[str, Any] = {
        "org_unit_id": str(unit.id),
        "title": "河道清洁",
        "description": "周六上午的河道清洁活动",
        "category": "environment",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=3)).isoformat(),
        "latitude": LAT,
        "longitude": LNG,
        "address": "松陵街道",
        "capacity": 20,
    }
    body.update(overrides)
    return body


# Creating


async def test_an_organizer_creates_a_draft_on_their_unit(
    client: Any, app: Any, world: Any
) -> None:
    response = await client.post(
        "/v1/activities",
        json=activity_body(world.point_x, walk_ins_allowed=True),
        headers=auth(app, world.organizer_x),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "draft"
    assert body["radius_m"] == 300
    assert body["rounding_mode"] == "half_hour"
    assert body["places_left"] == 20
    assert "checkin_secret" not in body
    row = await Reader(app).get(Activity, uuid.UUID(body["id"]))
    assert row.created_by == world.organizer_x.id
    assert len(row.checkin_secret) == 32


@pytest.mark.parametrize(
    ("who", "unit", "status", "code"),
    [
        ("organizer_y", "station_x", 403, "not_permitted_on_unit"),
        ("other_admin", "station_x", 404, "org_unit_not_found"),
        ("volunteer_a", "station_x", 403, "forbidden"),
    ],
)
async def test_only_staff_whose_roles_reach_the_unit_create(
    client: Any, app: Any, world: Any, who: str, unit: str, status: int, code: str
) -> None:
    response = await client.post(
        "/v1/activities",
        json=activity_body(getattr(world, unit)),
        headers=auth(app, getattr(world, who)),
    )

    assert_problem(response, status, code)
    assert await Reader(app).count(Activity) == 0


async def test_bad_activity_fields_are_refused(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    foreign_team = Team(
        region_id=world.other_region.id,
        org_unit_id=world.other_center.id,
        name="外区队伍",
        category=TeamCategory.culture,
    )
    session.add(foreign_team)
    await session.commit()
    start = minute(clock.now()) + timedelta(days=1)
    cases = [
        (
            {"ends_at": start.isoformat(), "starts_at": start.isoformat()},
            422,
            "activity_times_invalid",
        ),
        (
            {"signup_closes_at": (start + timedelta(days=2)).isoformat()},
            422,
            "activity_times_invalid",
        ),
        ({"team_id": str(foreign_team.id)}, 422, "activity_team_invalid"),
        ({"project_id": "00000000-0000-4000-8000-000000000000"}, 404, "project_not_found"),
        ({"capacity": 0}, 422, "validation_failed"),
        ({"latitude": 95}, 422, "validation_failed"),
        ({"starts_at": "2030-01-01T08:00:00"}, 422, "validation_failed"),
        ({"surprise": 1}, 422, "validation_failed"),
    ]
    for overrides, status, code in cases:
        body = activity_body(world.station_x, **overrides)
        response = await client.post(
            "/v1/activities", json=body, headers=auth(app, world.organizer_x)
        )
        assert_problem(response, status, code)
    assert await Reader(app).count(Activity) == 0


# Publishing, editing, cancelling


async def test_publish_then_edit_time_and_place_until_the_start(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(
        session, world.station_x, world.organizer_x, status=ActivityStatus.draft
    )
    headers = auth(app, world.organizer_x)
    url = f"/v1/activities/{activity.id}"

    published = await client.post(f"{url}/publish", headers=headers)
    assert published.json()["status"] == "published"
    assert_problem(
        await client.post(f"{url}/publish", headers=headers), 409, "activity_state_conflict"
    )
    moved = await client.patch(url, json={"latitude": north(500), "radius_m": 200}, headers=headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["radius_m"] == 200

    with clock.travel(activity.starts_at + timedelta(minutes=1)):
        headers = auth(app, world.organizer_x)
        late_move = await client.patch(url, json={"latitude": LAT}, headers=headers)
        assert_problem(late_move, 409, "activity_already_started")
        late_time = await client.patch(
            url,
            json={"ends_at": (activity.ends_at + timedelta(hours=1)).isoformat()},
            headers=headers,
        )
        assert_problem(late_time, 409, "activity_already_started")
        retitled = await client.patch(url, json={"title": "新标题"}, headers=headers)
        assert retitled.status_code == 200

    row = await Reader(app).get(Activity, activity.id)
    assert row.latitude == pytest.approx(north(500))
    assert row.ends_at == activity.ends_at
    assert row.title == "新标题"


async def test_edits_that_break_the_rules_are_refused(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, capacity=3)
    for v in (world.volunteer_a, world.volunteer_b):
        await sign_up_row(session, activity, v)
    headers = auth(app, world.organizer_x)
    url = f"/v1/activities/{activity.id}"

    assert_problem(
        await client.patch(url, json={"capacity": 1}, headers=headers),
        409,
        "capacity_below_signups",
    )
    assert_problem(
        await client.patch(url, json={"title": None}, headers=headers),
        422,
        "activity_field_required",
    )
    assert_problem(
        await client.patch(url, json={"ends_at": activity.starts_at.isoformat()}, headers=headers),
        422,
        "activity_times_invalid",
    )
    assert_problem(
        await client.patch(url, json={"title": "x"}, headers=auth(app, world.organizer_y)),
        403,
        "not_permitted_on_unit",
    )
    row = await Reader(app).get(Activity, activity.id)
    assert (row.capacity, row.title, row.ends_at) == (3, activity.title, activity.ends_at)

    lowered = await client.patch(url, json={"capacity": 2}, headers=headers)
    assert lowered.json()["places_left"] == 0


async def test_cancel_stops_sign_ups_and_freezes_the_activity(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    headers = auth(app, world.organizer_x)
    url = f"/v1/activities/{activity.id}"

    cancelled = await client.post(f"{url}/cancel", json={"reason": "暴雨"}, headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancel_reason"] == "暴雨"

    sign_up = await client.post(f"{url}/signups", headers=auth(app, world.volunteer_a))
    assert_problem(sign_up, 409, "activity_cancelled")
    edit = await client.patch(url, json={"title": "x"}, headers=headers)
    assert_problem(edit, 409, "activity_not_editable")
    again = await client.post(f"{url}/cancel", json={"reason": "x"}, headers=headers)
    assert_problem(again, 409, "activity_state_conflict")


async def test_an_activity_with_check_ins_cannot_be_cancelled(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    await sign_up_row(session, activity, world.volunteer_a)
    assert (await check_in(client, app, world.volunteer_a, activity)).status_code == 201

    response = await client.post(
        f"/v1/activities/{activity.id}/cancel",
        json={"reason": "x"},
        headers=auth(app, world.organizer_x),
    )

    assert_problem(response, 409, "activity_has_attendances")
    assert (await Reader(app).get(Activity, activity.id)).status == ActivityStatus.published


async def test_an_ended_draft_cannot_be_published(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        status=ActivityStatus.draft,
        starts_at=minute(clock.now()) - timedelta(hours=3),
    )

    response = await client.post(
        f"/v1/activities/{activity.id}/publish", headers=auth(app, world.organizer_x)
    )

    assert_problem(response, 422, "activity_times_invalid")


# Reading and listing


async def test_volunteers_see_published_activities_but_not_drafts(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    published = await make_activity(session, world.station_x, world.organizer_x)
    draft = await make_activity(
        session, world.station_x, world.organizer_x, status=ActivityStatus.draft
    )
    volunteer = auth(app, world.volunteer_a)

    assert (
        await client.get(f"/v1/activities/{published.id}", headers=volunteer)
    ).status_code == 200
    assert_problem(
        await client.get(f"/v1/activities/{draft.id}", headers=volunteer), 404, "activity_not_found"
    )
    assert_problem(
        await client.get(
            f"/v1/activities/{published.id}", headers=auth(app, world.other_volunteer)
        ),
        404,
        "activity_not_found",
    )
    assert (
        await client.get(f"/v1/activities/{draft.id}", headers=auth(app, world.organizer_x))
    ).status_code == 200
    listed = await client.get("/v1/activities", headers=volunteer)
    assert [a["id"] for a in listed.json()["items"]] == [str(published.id)]
    assert_problem(
        await client.get("/v1/activities?status=draft", headers=volunteer), 403, "forbidden"
    )


async def test_staff_list_the_drafts_of_their_units_only(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    mine = await make_activity(
        session, world.point_x, world.organizer_x, status=ActivityStatus.draft
    )
    await make_activity(session, world.station_y, world.organizer_y, status=ActivityStatus.draft)

    listed = await client.get("/v1/activities?status=draft", headers=auth(app, world.organizer_x))
    everything = await client.get(
        "/v1/activities?status=draft", headers=auth(app, world.center_admin)
    )

    assert [a["id"] for a in listed.json()["items"]] == [str(mine.id)]
    assert len(everything.json()["items"]) == 2


async def test_listing_filters_by_unit_subtree_category_and_dates(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    soon = minute(clock.now()) + timedelta(hours=1)
    at_point = await make_activity(
        session, world.point_x, world.organizer_x, starts_at=soon, category=TeamCategory.health
    )
    at_station = await make_activity(
        session, world.station_x, world.organizer_x, starts_at=soon + timedelta(days=3)
    )
    elsewhere = await make_activity(
        session, world.station_y, world.organizer_y, starts_at=soon + timedelta(days=1)
    )
    headers = auth(app, world.volunteer_a)

    async def ids(params: dict[str, Any]) -> list[str]:
        return [a["id"] for a in await walk(client, "/v1/activities", headers, params)]

    assert await ids({}) == [str(at_point.id), str(elsewhere.id), str(at_station.id)]
    assert await ids({"unit_id": str(world.institute_x.id)}) == [
        str(at_point.id),
        str(at_station.id),
    ]
    assert await ids({"unit_id": str(world.point_x.id)}) == [str(at_point.id)]
    assert await ids({"category": "health"}) == [str(at_point.id)]
    window = {
        "from": (soon + timedelta(hours=12)).isoformat(),
        "to": (soon + timedelta(days=2)).isoformat(),
    }
    assert await ids(window) == [str(elsewhere.id)]
    foreign = await client.get(
        "/v1/activities", params={"unit_id": str(world.other_center.id)}, headers=headers
    )
    assert_problem(foreign, 404, "org_unit_not_found")


async def test_listing_by_distance_is_nearest_first(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    far = await make_activity(session, world.station_x, world.organizer_x, latitude=north(9000))
    near = await make_activity(session, world.station_x, world.organizer_x, latitude=north(500))
    middle = await make_activity(session, world.station_x, world.organizer_x, latitude=north(-3000))
    await make_activity(session, world.station_x, world.organizer_x, latitude=north(80_000))
    headers = auth(app, world.volunteer_a)

    items = await walk(
        client, "/v1/activities", headers, {"latitude": LAT, "longitude": LNG, "within_km": 20}
    )

    assert [a["id"] for a in items] == [str(near.id), str(middle.id), str(far.id)]
    assert [round(a["distance_m"], -2) for a in items] == [500, 3000, 9000]


async def test_lat_and_lng_still_sort_by_distance_for_one_release_and_say_they_are_deprecated(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    far = await make_activity(session, world.station_x, world.organizer_x, latitude=north(9000))
    near = await make_activity(session, world.station_x, world.organizer_x, latitude=north(500))
    headers = auth(app, world.volunteer_a)

    old = await client.get(
        "/v1/activities", params={"lat": LAT, "lng": LNG, "within_km": 20}, headers=headers
    )
    new = await client.get(
        "/v1/activities",
        params={"latitude": LAT, "longitude": LNG, "within_km": 20},
        headers=headers,
    )

    assert old.status_code == new.status_code == 200
    assert [a["id"] for a in old.json()["items"]] == [str(near.id), str(far.id)]
    assert old.json()["items"] == new.json()["items"]
    assert old.headers["deprecation"] == "@1796601600"
    assert 'rel="deprecation"' in old.headers["link"]
    assert old.headers["link"].startswith("</docs#/activities/list_activities>")
    assert "deprecation" not in new.headers
    assert "link" not in new.headers
    documented = {
        p["name"]: p for p in app.openapi()["paths"]["/v1/activities"]["get"]["parameters"]
    }
    assert documented["lat"]["deprecated"] is True
    assert documented["lng"]["deprecated"] is True
    assert "deprecated" not in documented["latitude"]
    assert "deprecated" not in documented["longitude"]
    documented_headers = app.openapi()["paths"]["/v1/activities"]["get"]["responses"]["200"]
    assert {"Deprecation", "Link"} <= documented_headers["headers"].keys()


async def test_nearby_activities_page_in_distance_order_and_exclude_the_past(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    made = {
        metres: await make_activity(
            session, world.station_x, world.organizer_x, latitude=north(metres)
        )
        for metres in (7000, 1000, -4000, 2500, 12_000)
    }
    yesterday = clock.now() - timedelta(days=1)
    past = await make_activity(
        session, world.station_x, world.organizer_x, latitude=north(10), starts_at=yesterday
    )
    headers = auth(app, world.volunteer_a)
    near_me = {"latitude": LAT, "longitude": LNG, "within_km": 10}

    items = await walk(client, "/v1/activities", headers, near_me)

    # Two a page, nearest first; the one 12 km away is out of range, yesterday's is past.
    assert [a["id"] for a in items] == [str(made[m].id) for m in (1000, 2500, -4000, 7000)]
    assert [round(a["distance_m"], -2) for a in items] == [1000, 2500, 4000, 7000]
    since = {**near_me, "from": (yesterday - timedelta(hours=1)).isoformat()}
    with_past = await walk(client, "/v1/activities", headers, since)
    assert with_past[0]["id"] == str(past.id)
    soonest = await walk(client, "/v1/activities", headers, {})
    assert str(past.id) not in {a["id"] for a in soonest}


async def test_volunteers_see_the_venue_coarsened_and_staff_see_it_exact(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        latitude=31.161234,
        longitude=120.645678,
        radius_m=150,
    )
    near = {"latitude": 31.16, "longitude": 120.64}
    for who, expected in (
        (world.volunteer_a, (31.161, 120.646, 200)),
        (world.organizer_y, (31.161234, 120.645678, 150)),
    ):
        headers = auth(app, who)
        one = (await client.get(f"/v1/activities/{activity.id}", headers=headers)).json()
        listed = await walk(client, "/v1/activities", headers, {})
        nearby = await walk(client, "/v1/activities", headers, near)
        for body in (one, listed[0], nearby[0]):
            assert (body["latitude"], body["longitude"], body["radius_m"]) == expected


def test_rounding_is_per_started_hour_and_capped() -> None:
    activity = Activity(
        starts_at=clock.now(),
        ends_at=clock.now() + timedelta(minutes=150),
        rounding_mode="half_hour",
        cap_minutes=None,
    )
    expected = {0: 0, 14: 0, 15: 30, 44: 30, 45: 60, 60: 60, 74: 60, 75: 90, 105: 120, 200: 150}
    assert {m: round_minutes(m, activity) for m in expected} == expected
    activity.cap_minutes = 90
    assert round_minutes(120, activity) == 90
    activity.rounding_mode = "exact"
    assert round_minutes(47, activity) == 47
