"""Builders and readers shared by the hours tests: activities and attendances written as
rows, check-in hours created the way check-out creates them, and fresh-session reads."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository
from app.activities.hours.models import HoursAudit, HoursCorrection, HoursRecord
from app.activities.hours.service import create_checkin_hours
from app.activities.models import Activity, ActivityStatus, Attendance
from app.core import clock
from app.identity.models import StaffUser
from app.integrations.models import OutboxEvent
from app.orgs.models import OrgUnit, TeamCategory
from app.volunteers.models import Volunteer
from tests.orgs.support import Reader, assert_problem

__all__ = [
    "Reader",
    "activity_at",
    "approve",
    "assert_problem",
    "audit_of",
    "checkin_hours",
    "corrections_of",
    "events",
    "hours_of",
    "make_activity",
    "set_daily_cap",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def activity_at(days_ago: int = 3, hour_utc: int = 1) -> datetime:
    """A start `days_ago` days back (09:00 in Shanghai by default): long since ended."""
    start = clock.now() - timedelta(days=days_ago)
    return start.replace(hour=hour_utc, minute=0, second=0, microsecond=0)


async def make_activity(
    session: AsyncSession,
    unit: OrgUnit,
    creator: StaffUser,
    *,
    status: ActivityStatus = ActivityStatus.finished,
    starts_at: datetime | None = None,
    hours: float = 2,
    category: TeamCategory = TeamCategory.environment,
    cap_minutes: int | None = None,
    title: str | None = None,
) -> Activity:
    starts = starts_at or activity_at()
    activity = Activity(
        region_id=unit.region_id,
        org_unit_id=unit.id,
        title=title or f"活动-{uuid.uuid4().hex[:6]}",
        description="",
        category=category,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=int(hours * 60)),
        latitude=31.16,
        longitude=120.64,
        address="松陵街道文明实践站",
        radius_m=300,
        capacity=50,
        signed_up=0,
        walk_ins_allowed=True,
        status=status,
        cap_minutes=cap_minutes,
        checkin_secret=secrets.token_bytes(32),
        created_by=creator.id,
    )
    session.add(activity)
    await session.commit()
    return activity


async def checkin_hours(
    session: AsyncSession,
    activity: Activity,
    volunteer: Volunteer,
    *,
    minutes: int = 60,
    flags: list[str] | None = None,
) -> HoursRecord:
    """A closed attendance and its pending record, as the check-out flow leaves them."""
    attendance = Attendance(
        region_id=activity.region_id,
        activity_id=activity.id,
        volunteer_id=volunteer.id,
        checked_in_at=activity.starts_at,
        checked_out_at=activity.starts_at + timedelta(minutes=minutes),
        method="code",
        checkout_method="code",
        flags=list(flags or []),
        credited_minutes=minutes,
    )
    session.add(attendance)
    await session.flush()
    record = await create_checkin_hours(
        session,
        region_id=activity.region_id,
        volunteer_id=volunteer.id,
        activity_id=activity.id,
        attendance_id=attendance.id,
        minutes=minutes,
        service_date=activity.starts_at.astimezone(SHANGHAI).date(),
        flags=list(flags or []),
    )
    await session.commit()
    return record


async def set_daily_cap(session: AsyncSession, region_id: uuid.UUID, minutes: int) -> None:
    policy = await repository.policy_row(session, region_id=region_id)
    policy.daily_cap_minutes = minutes
    await session.commit()


async def approve(
    client: httpx.AsyncClient, auth: dict[str, str], record_id: uuid.UUID
) -> dict[str, Any]:
    response = await client.post(f"/v1/hours/{record_id}/approve", headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def hours_of(db: Reader, volunteer_id: uuid.UUID) -> list[HoursRecord]:
    return list(
        await db.all(
            select(HoursRecord)
            .where(HoursRecord.volunteer_id == volunteer_id)
            .order_by(HoursRecord.created_at, HoursRecord.id)
        )
    )


async def audit_of(db: Reader, record_id: uuid.UUID) -> list[HoursAudit]:
    return list(
        await db.all(
            select(HoursAudit)
            .where(HoursAudit.hours_record_id == record_id)
            .order_by(HoursAudit.at, HoursAudit.id)
        )
    )


async def corrections_of(db: Reader, record_id: uuid.UUID) -> list[HoursCorrection]:
    return list(
        await db.all(
            select(HoursCorrection)
            .where(HoursCorrection.hours_record_id == record_id)
            .order_by(HoursCorrection.created_at)
        )
    )


async def events(db: Reader, topic: str = "hours.approved") -> list[OutboxEvent]:
    return list(
        await db.all(
            select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.created_at)
        )
    )
