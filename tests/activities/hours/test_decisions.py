"""Hours decisions: approve and reject, singly and in bulk; approved hours lock; who may
decide; the `hours.approved` event; the staff listing and one record's audit trail."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours.models import HoursRecord, HoursSource, HoursStatus
from app.activities.hours.service import credited_minutes_on
from app.core.pagination import encode_cursor
from tests.activities.hours.support import (
    SHANGHAI,
    Reader,
    approve,
    assert_problem,
    audit_of,
    checkin_hours,
    events,
    make_activity,
)


async def test_check_out_yields_a_pending_checkin_record_with_the_attendance_flags(
    session: AsyncSession, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)

    record = await checkin_hours(
        session, activity, world.volunteer_a, minutes=90, flags=["zero_accuracy"]
    )

    stored = await db.get(HoursRecord, record.id)
    assert stored is not None
    assert (stored.status, stored.source, stored.minutes) == ("pending", "checkin", 90)
    assert stored.flags == ["zero_accuracy"]
    assert stored.service_date == activity.starts_at.astimezone(SHANGHAI).date()
    assert [a.action for a in await audit_of(db, record.id)] == ["created"]


async def test_credited_minutes_on_a_day_count_pending_and_approved_records_only(
    session: AsyncSession, client: Any, world: Any
) -> None:
    first = await make_activity(session, world.station_x, world.organizer_x)
    second = await make_activity(session, world.station_x, world.organizer_x)
    third = await make_activity(session, world.station_x, world.organizer_x)
    approved = await checkin_hours(session, first, world.volunteer_a, minutes=60)
    await checkin_hours(session, second, world.volunteer_a, minutes=30)
    rejected = await checkin_hours(session, third, world.volunteer_a, minutes=120)
    await approve(client, world.auth["organizer_x"], approved.id)
    response = await client.post(
        f"/v1/hours/{rejected.id}/reject",
        headers=world.auth["organizer_x"],
        json={"reason": "未到场"},
    )
    assert response.status_code == 200

    total = await credited_minutes_on(
        session,
        region_id=world.region.id,
        volunteer_id=world.volunteer_a.id,
        service_date=approved.service_date,
    )

    assert total == 90


async def test_approving_locks_the_record_and_emits_one_hours_approved_event(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=120)

    body = await approve(client, world.auth["organizer_x"], record.id)

    assert body["status"] == "approved"
    assert body["decided_by_id"] == str(world.organizer_x.id)
    sent = await events(db)
    assert len(sent) == 1
    assert sent[0].region_id == world.region.id
    assert sent[0].payload == {
        "hours_record_id": str(record.id),
        "volunteer_id": str(world.volunteer_a.id),
        "activity_id": str(activity.id),
        "minutes": 120,
        "source": "checkin",
        "supersedes_id": None,
        "service_date": record.service_date.isoformat(),
        "approved_at": sent[0].payload["approved_at"],
        "approved_by": str(world.organizer_x.id),
    }
    assert sent[0].payload["approved_at"] == body["decided_at"].replace("Z", "+00:00")
    trail = await audit_of(db, record.id)
    assert [(a.action, a.from_status, a.to_status, a.actor_id) for a in trail] == [
        ("created", None, "pending", None),
        ("approved", "pending", "approved", world.organizer_x.id),
    ]


async def test_approved_hours_can_be_neither_rejected_nor_approved_again(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a)
    await approve(client, world.auth["organizer_x"], record.id)

    rejected = await client.post(
        f"/v1/hours/{record.id}/reject", headers=world.auth["center_admin"], json={"reason": "x"}
    )
    again = await client.post(f"/v1/hours/{record.id}/approve", headers=world.auth["center_admin"])

    assert_problem(rejected, 409, "hours_locked")
    assert_problem(again, 409, "hours_already_decided")
    stored = await db.get(HoursRecord, record.id)
    assert stored is not None
    assert stored.status == HoursStatus.approved
    assert stored.decided_by_id == world.organizer_x.id
    assert len(await events(db)) == 1
    assert len(await audit_of(db, record.id)) == 2


async def test_rejecting_records_the_reason_and_emits_nothing(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a)

    response = await client.post(
        f"/v1/hours/{record.id}/reject",
        headers=world.auth["organizer_x"],
        json={"reason": "  签到位置异常  "},
    )
    then_approved = await client.post(
        f"/v1/hours/{record.id}/approve", headers=world.auth["organizer_x"]
    )

    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["decision_reason"] == "签到位置异常"
    assert_problem(then_approved, 409, "hours_already_decided")
    assert await events(db) == []
    trail = await audit_of(db, record.id)
    assert [(a.action, a.reason) for a in trail][-1] == ("rejected", "签到位置异常")


@pytest.mark.parametrize(
    "body",
    [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"reason": "x", "extra": 1}],
)
async def test_a_rejection_needs_a_bounded_reason(
    session: AsyncSession, client: Any, world: Any, db: Reader, body: dict[str, Any]
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a)

    response = await client.post(
        f"/v1/hours/{record.id}/reject", headers=world.auth["organizer_x"], json=body
    )

    assert_problem(response, 422, "validation_failed")
    stored = await db.get(HoursRecord, record.id)
    assert stored is not None
    assert stored.status == HoursStatus.pending
    assert len(await audit_of(db, record.id)) == 1


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("organizer_y", 403, "not_permitted_on_unit"),
        ("other_admin", 404, "hours_record_not_found"),
        ("volunteer_a", 403, "forbidden"),
    ],
)
async def test_only_staff_whose_roles_reach_the_activity_may_decide(
    session: AsyncSession, client: Any, world: Any, db: Reader, who: str, status: int, code: str
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a)

    approved = await client.post(f"/v1/hours/{record.id}/approve", headers=world.auth[who])
    rejected = await client.post(
        f"/v1/hours/{record.id}/reject", headers=world.auth[who], json={"reason": "x"}
    )

    assert_problem(approved, status, code)
    assert_problem(rejected, status, code)
    stored = await db.get(HoursRecord, record.id)
    assert stored is not None
    assert stored.status == HoursStatus.pending
    assert await events(db) == []


async def test_admins_above_the_activity_unit_may_decide(
    session: AsyncSession, client: Any, world: Any
) -> None:
    activity = await make_activity(session, world.point_x, world.organizer_x)
    first = await checkin_hours(session, activity, world.volunteer_a)
    second = await checkin_hours(session, activity, world.volunteer_b)

    assert (await approve(client, world.auth["institute_admin_x"], first.id))["status"] == (
        "approved"
    )
    assert (await approve(client, world.auth["station_admin_x"], second.id))["status"] == (
        "approved"
    )


async def test_unknown_record_and_malformed_id_are_refused(client: Any, world: Any) -> None:
    unknown = await client.post(
        f"/v1/hours/{uuid.uuid4()}/approve", headers=world.auth["organizer_x"]
    )
    malformed = await client.post("/v1/hours/not-a-uuid/approve", headers=world.auth["organizer_x"])
    anonymous = await client.post(f"/v1/hours/{uuid.uuid4()}/approve")

    assert_problem(unknown, 404, "hours_record_not_found")
    assert_problem(malformed, 422, "validation_failed")
    assert_problem(anonymous, 401, "unauthorized")


async def test_bulk_decisions_report_each_record_and_keep_the_successes(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    mine = await make_activity(session, world.station_x, world.organizer_x)
    theirs = await make_activity(session, world.station_y, world.organizer_y)
    first = await checkin_hours(session, mine, world.volunteer_a)
    second = await checkin_hours(session, mine, world.volunteer_b)
    decided = await checkin_hours(session, theirs, world.volunteer_a)
    elsewhere = await checkin_hours(session, theirs, world.volunteer_b)
    await approve(client, world.auth["organizer_y"], decided.id)
    unknown = uuid.uuid4()

    response = await client.post(
        "/v1/hours/bulk-decisions",
        headers=world.auth["organizer_x"],
        json={
            "ids": [str(first.id), str(elsewhere.id), str(unknown), str(second.id)],
            "decision": "approve",
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert [(r["id"], r["ok"], r["status"], r["code"]) for r in body["results"]] == [
        (str(first.id), True, "approved", None),
        (str(elsewhere.id), False, None, "not_permitted_on_unit"),
        (str(unknown), False, None, "hours_record_not_found"),
        (str(second.id), True, "approved", None),
    ]
    assert (body["succeeded"], body["failed"]) == (2, 2)
    assert {e.payload["hours_record_id"] for e in await events(db)} == {
        str(decided.id),
        str(first.id),
        str(second.id),
    }
    stored = await db.get(HoursRecord, elsewhere.id)
    assert stored is not None
    assert stored.status == HoursStatus.pending
    approved = [await audit_of(db, r.id) for r in (first, second)]
    assert [[(a.action, a.actor_id) for a in trail[1:]] for trail in approved] == [
        [("approved", world.organizer_x.id)]
    ] * 2
    assert [a.action for a in await audit_of(db, elsewhere.id)] == ["created"]


async def test_bulk_rejection_reports_records_already_decided(
    session: AsyncSession, client: Any, world: Any, db: Reader
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    pending = await checkin_hours(session, activity, world.volunteer_a)
    approved = await checkin_hours(session, activity, world.volunteer_b)
    await approve(client, world.auth["organizer_x"], approved.id)

    response = await client.post(
        "/v1/hours/bulk-decisions",
        headers=world.auth["organizer_x"],
        json={
            "ids": [str(pending.id), str(approved.id), str(pending.id)],
            "decision": "reject",
            "reason": "重复记录",
        },
    )

    assert response.status_code == 200
    assert [(r["ok"], r["code"]) for r in response.json()["results"]] == [
        (True, None),
        (False, "hours_locked"),
        (False, "hours_already_decided"),
    ]
    stored = await db.get(HoursRecord, pending.id)
    assert stored is not None
    assert (stored.status, stored.decision_reason) == (HoursStatus.rejected, "重复记录")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"decision": "reject"}, 422, "hours_reason_required"),
        ({"decision": "delete"}, 422, "validation_failed"),
        ({"decision": "approve", "ids": []}, 422, "validation_failed"),
        ({"decision": "approve", "ids": ["nope"]}, 422, "validation_failed"),
    ],
)
async def test_bad_bulk_decisions_change_nothing(
    session: AsyncSession,
    client: Any,
    world: Any,
    db: Reader,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a)
    request = {"ids": [str(record.id)], **body}

    response = await client.post(
        "/v1/hours/bulk-decisions", headers=world.auth["organizer_x"], json=request
    )

    assert_problem(response, status, code)
    stored = await db.get(HoursRecord, record.id)
    assert stored is not None
    assert stored.status == HoursStatus.pending
    assert await events(db) == []


async def test_staff_list_records_of_the_units_they_reach_newest_first_with_a_cursor(
    session: AsyncSession, client: Any, world: Any
) -> None:
    x1 = await make_activity(session, world.station_x, world.organizer_x)
    x2 = await make_activity(session, world.point_x, world.organizer_x)
    y1 = await make_activity(session, world.station_y, world.organizer_y)
    on_x = [
        await checkin_hours(session, x1, world.volunteer_a),
        await checkin_hours(session, x1, world.volunteer_b),
        await checkin_hours(session, x2, world.volunteer_a),
    ]
    on_y = await checkin_hours(session, y1, world.volunteer_a)
    await approve(client, world.auth["organizer_x"], on_x[0].id)

    seen: list[str] = []
    cursor = None
    for _ in range(3):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/v1/hours", headers=world.auth["organizer_x"], params=params)
        assert page.status_code == 200
        seen += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break

    assert seen == [str(r.id) for r in reversed(on_x)]
    everything = await client.get("/v1/hours", headers=world.auth["center_admin"])
    assert {i["id"] for i in everything.json()["items"]} == {str(r.id) for r in [*on_x, on_y]}
    item = everything.json()["items"][0]
    assert item["activity"]["id"] == str(y1.id)
    assert item["volunteer"]["volunteer_no"] == world.volunteer_a.volunteer_no
    assert item["open_correction"] is None
    other_region = await client.get("/v1/hours", headers=world.auth["other_admin"])
    assert other_region.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "approved"}, [0]),
        ({"status": "pending"}, [2, 1]),
        ({"volunteer_id": "B"}, [1]),
        ({"activity_id": "second"}, [2]),
        ({"source": "makeup"}, []),
    ],
)
async def test_staff_listing_filters(
    session: AsyncSession,
    client: Any,
    world: Any,
    params: dict[str, str],
    expected: list[int],
) -> None:
    first = await make_activity(session, world.station_x, world.organizer_x)
    second = await make_activity(session, world.station_x, world.organizer_x)
    records = [
        await checkin_hours(session, first, world.volunteer_a),
        await checkin_hours(session, first, world.volunteer_b),
        await checkin_hours(session, second, world.volunteer_a),
    ]
    await approve(client, world.auth["organizer_x"], records[0].id)
    names = {"B": str(world.volunteer_b.id), "second": str(second.id)}
    query = {k: names.get(v, v) for k, v in params.items()}

    response = await client.get("/v1/hours", headers=world.auth["organizer_x"], params=query)

    assert response.status_code == 200
    assert [i["id"] for i in response.json()["items"]] == [str(records[i].id) for i in expected]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "%%%"}, "invalid_cursor"),
        ({"cursor": "WyJ4Il0"}, "invalid_cursor"),
        # A time without a zone cannot be compared with the stored instants.
        ({"cursor": encode_cursor("2026-05-09T10:00:00", uuid.uuid4())}, "invalid_cursor"),
        ({"cursor": encode_cursor("2026-05-09T10:00:00+00:00", "nope")}, "invalid_cursor"),
        ({"status": "maybe"}, "validation_failed"),
        ({"limit": 0}, "validation_failed"),
    ],
)
async def test_staff_listing_refuses_bad_parameters(
    client: Any, world: Any, params: dict[str, Any], code: str
) -> None:
    response = await client.get("/v1/hours", headers=world.auth["organizer_x"], params=params)

    assert response.status_code in (400, 422)
    assert response.json()["code"] == code


async def test_one_record_shows_its_audit_trail_to_staff_who_reach_it(
    session: AsyncSession, client: Any, world: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    record = await checkin_hours(session, activity, world.volunteer_a)
    await client.post(
        f"/v1/hours/{record.id}/reject", headers=world.auth["organizer_x"], json={"reason": "缺席"}
    )

    response = await client.get(f"/v1/hours/{record.id}", headers=world.auth["station_admin_x"])
    outside = await client.get(f"/v1/hours/{record.id}", headers=world.auth["organizer_y"])

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "rejected"
    assert body["source"] == HoursSource.checkin
    assert [(a["action"], a["actor_kind"], a["reason"]) for a in body["audit"]] == [
        ("created", "system", "attendance closed"),
        ("rejected", "staff", "缺席"),
    ]
    assert body["corrections"] == []
    assert_problem(outside, 403, "not_permitted_on_unit")
