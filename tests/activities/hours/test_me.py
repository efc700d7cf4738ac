"""`GET /v1/me/hours`: the volunteer's approved totals by year, category and source,
and a cursor list of their own records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.orgs.models import TeamCategory
from tests.activities.hours.support import (
    approve,
    assert_problem,
    checkin_hours,
    make_activity,
)


async def test_totals_count_approved_minutes_by_year_category_and_source(
    session: AsyncSession, client: Any, world: Any
) -> None:
    new_year_morning = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        starts_at=datetime(2025, 12, 31, 16, 30, tzinfo=UTC),  # 2026-01-01 00:30 in Shanghai
        category=TeamCategory.education,
    )
    new_years_eve = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        starts_at=datetime(2025, 12, 31, 15, 0, tzinfo=UTC),  # still 2025 in Shanghai
        category=TeamCategory.environment,
    )
    recent = await make_activity(
        session, world.station_x, world.organizer_x, category=TeamCategory.environment
    )
    approved = [
        await checkin_hours(session, new_year_morning, world.volunteer_a, minutes=60),
        await checkin_hours(session, new_years_eve, world.volunteer_a, minutes=90),
    ]
    for record in approved:
        await approve(client, world.auth["organizer_x"], record.id)
    makeup = await client.post(
        "/v1/hours/makeup",
        headers={**world.auth["organizer_x"], "Idempotency-Key": "m-1"},
        json={
            "volunteer_id": str(world.volunteer_a.id),
            "activity_id": str(recent.id),
            "minutes": 30,
            "reason": "补录",
        },
    )
    # Someone other than the organizer who entered the make-up approves it.
    await approve(client, world.auth["station_admin_x"], makeup.json()["id"])
    await checkin_hours(session, recent, world.volunteer_b, minutes=120)
    pending = await make_activity(session, world.station_x, world.organizer_x)
    await checkin_hours(session, pending, world.volunteer_a, minutes=45)
    rejected = await make_activity(session, world.station_x, world.organizer_x)
    refused = await checkin_hours(session, rejected, world.volunteer_a, minutes=100)
    await client.post(
        f"/v1/hours/{refused.id}/reject", headers=world.auth["organizer_x"], json={"reason": "x"}
    )

    response = await client.get("/v1/me/hours", headers=world.auth["volunteer_a"])

    assert response.status_code == 200
    totals = response.json()["totals"]
    assert totals["approved_minutes"] == 180
    assert totals["pending_minutes"] == 45
    assert totals["by_year"] == [
        {"year": 2025, "minutes": 90},
        {"year": 2026, "minutes": 90},
    ]
    assert totals["by_category"] == [
        {"category": "education", "label": "助学支教", "minutes": 60},
        {"category": "environment", "label": "卫生环保", "minutes": 120},
    ]
    assert totals["by_source"] == [
        {"source": "checkin", "minutes": 150},
        {"source": "makeup", "minutes": 30},
    ]
    assert len(response.json()["items"]) == 5


async def test_own_records_are_listed_newest_first_with_a_cursor_and_a_status_filter(
    session: AsyncSession, client: Any, world: Any
) -> None:
    activities = [
        await make_activity(session, world.station_x, world.organizer_x) for _ in range(3)
    ]
    mine = [await checkin_hours(session, a, world.volunteer_a) for a in activities]
    await checkin_hours(session, activities[0], world.volunteer_b)
    await approve(client, world.auth["organizer_x"], mine[1].id)

    first = await client.get("/v1/me/hours", headers=world.auth["volunteer_a"], params={"limit": 2})
    second = await client.get(
        "/v1/me/hours",
        headers=world.auth["volunteer_a"],
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
    )
    approved = await client.get(
        "/v1/me/hours", headers=world.auth["volunteer_a"], params={"status": "approved"}
    )

    ids = [i["id"] for i in first.json()["items"] + second.json()["items"]]
    assert ids == [str(r.id) for r in reversed(mine)]
    assert second.json()["next_cursor"] is None
    assert second.json()["totals"] == first.json()["totals"]
    assert [i["id"] for i in approved.json()["items"]] == [str(mine[1].id)]
    item = approved.json()["items"][0]
    assert item["activity"]["title"] == activities[1].title
    assert item["volunteer"]["id"] == str(world.volunteer_a.id)


async def test_a_volunteer_without_hours_sees_zero_totals(client: Any, world: Any) -> None:
    response = await client.get("/v1/me/hours", headers=world.auth["volunteer_b"])

    assert response.json() == {
        "totals": {
            "approved_minutes": 0,
            "pending_minutes": 0,
            "by_year": [],
            "by_category": [],
            "by_source": [],
        },
        "items": [],
        "next_cursor": None,
    }


@pytest.mark.parametrize(
    ("who", "params", "status", "code"),
    [
        ("organizer_x", {}, 403, "forbidden"),
        ("volunteer_a", {"cursor": "bm9wZQ"}, 400, "invalid_cursor"),
        ("volunteer_a", {"status": "lost"}, 422, "validation_failed"),
        ("volunteer_a", {"limit": 201}, 422, "validation_failed"),
    ],
)
async def test_my_hours_refusals(
    client: Any, world: Any, who: str, params: dict[str, Any], status: int, code: str
) -> None:
    response = await client.get("/v1/me/hours", headers=world.auth[who], params=params)

    assert_problem(response, status, code)
