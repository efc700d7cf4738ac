"""Builders and request helpers of the emergency tests: grids and confirmed teams written
as rows, alerts raised and answered through HTTP with tokens issued at call time."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.emergency.models import (
    EmergencyAudit,
    Enrolment,
    EnrolmentStatus,
    Grid,
    GridShape,
)
from app.identity.models import StaffUser
from app.orgs.models import OrgUnit
from app.volunteers.models import Volunteer
from tests.activities.support import LAT, LNG, auth
from tests.orgs.support import Reader, assert_problem

__all__ = [
    "LAT",
    "LNG",
    "Reader",
    "alert_body",
    "assert_problem",
    "audit_of",
    "auth",
    "enrol_row",
    "inbox",
    "make_grid",
    "raise_alert",
]


async def make_grid(session: AsyncSession, point: OrgUnit, staff: StaffUser) -> Grid:
    grid = Grid(
        region_id=point.region_id,
        org_unit_id=point.id,
        shape=GridShape.circle,
        polygon=None,
        center_latitude=LAT,
        center_longitude=LNG,
        radius_m=800,
        created_by=staff.id,
        updated_by=staff.id,
    )
    session.add(grid)
    await session.commit()
    return grid


async def enrol_row(
    session: AsyncSession,
    grid: Grid,
    volunteer: Volunteer,
    *,
    skills: list[str] | None = None,
    status: EnrolmentStatus = EnrolmentStatus.confirmed,
) -> Enrolment:
    enrolment = Enrolment(
        region_id=grid.region_id,
        grid_id=grid.id,
        volunteer_id=volunteer.id,
        skills=skills or [],
        availability=["anytime"],
        status=status,
        asked_at=clock.now(),
        decided_at=clock.now() if status != EnrolmentStatus.pending else None,
    )
    session.add(enrolment)
    await session.commit()
    return enrolment


def alert_body(grids: list[Grid], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "grid_ids": [str(g.id) for g in grids],
        "kind": "flood",
        "drill": False,
        "message": "河道水位超警戒, 请带雨具",
        "muster": {"name": "点X广场", "address": "松陵街道1号", "latitude": LAT, "longitude": LNG},
        "muster_by": (clock.now() + timedelta(minutes=30)).isoformat(),
        "needed_total": 2,
        "needed_skills": {"first_aid": 1},
    }
    body.update(overrides)
    return body


async def raise_alert(
    client: httpx.AsyncClient, app: Any, staff: StaffUser, grids: list[Grid], **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/alerts", json=alert_body(grids, **overrides), headers=auth(app, staff)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def inbox(client: httpx.AsyncClient, app: Any, volunteer: Volunteer) -> list[dict[str, Any]]:
    response = await client.get("/v1/me/notifications", headers=auth(app, volunteer))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def audit_of(db: Reader, subject_id: uuid.UUID | str) -> list[str]:
    rows = await db.all(
        select(EmergencyAudit)
        .where(EmergencyAudit.subject_id == uuid.UUID(str(subject_id)))
        .order_by(EmergencyAudit.at)
    )
    return [row.action for row in rows]
