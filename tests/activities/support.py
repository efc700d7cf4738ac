"""Builders and request helpers of the activity and attendance tests.

Activities are written as rows (published, starting soon, at a fixed place); requests
go through HTTP with tokens issued at call time, so that tests may move the clock.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import codes
from app.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    RoundingMode,
    Signup,
    SignupStatus,
)
from app.core import clock
from app.identity.models import StaffUser
from app.orgs.models import OrgUnit, TeamCategory
from app.volunteers.models import Volunteer
from tests.builders import staff_auth, volunteer_auth
from tests.orgs.support import Reader, assert_problem

__all__ = [
    "LAT",
    "LNG",
    "Reader",
    "assert_problem",
    "auth",
    "check_in",
    "check_out",
    "code_of",
    "make_activity",
    "minute",
    "north",
    "sign_up_row",
]

# 松陵, Wujiang: where test activities take place.
LAT = 31.16
LNG = 120.64
METRES_PER_DEGREE_LAT = 111_195.0


def minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def north(metres: float, lat: float = LAT) -> float:
    """The latitude `metres` north of `lat`."""
    return lat + metres / METRES_PER_DEGREE_LAT


def auth(app: Any, who: Volunteer | StaffUser) -> dict[str, str]:
    """A bearer token issued now (by the test clock)."""
    if isinstance(who, Volunteer):
        return volunteer_auth(app, who)
    return staff_auth(app, who)


async def make_activity(
    session: AsyncSession,
    unit: OrgUnit,
    creator: StaffUser,
    *,
    starts_at: datetime | None = None,
    minutes: int = 120,
    capacity: int = 10,
    walk_ins_allowed: bool = False,
    scan_required: bool = False,
    status: ActivityStatus = ActivityStatus.published,
    latitude: float = LAT,
    longitude: float = LNG,
    radius_m: int = 300,
    signup_opens_at: datetime | None = None,
    signup_closes_at: datetime | None = None,
    cap_minutes: int | None = None,
    rounding_mode: RoundingMode = RoundingMode.half_hour,
    category: TeamCategory = TeamCategory.environment,
    title: str | None = None,
) -> Activity:
    """A published activity starting in 10 minutes unless told otherwise."""
    starts = starts_at or minute(clock.now()) + timedelta(minutes=10)
    activity = Activity(
        region_id=unit.region_id,
        org_unit_id=unit.id,
        title=title or f"活动-{uuid.uuid4().hex[:6]}",
        description="",
        category=category,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=minutes),
        latitude=latitude,
        longitude=longitude,
        address="松陵街道文明实践站",
        radius_m=radius_m,
        capacity=capacity,
        signed_up=0,
        signup_opens_at=signup_opens_at,
        signup_closes_at=signup_closes_at,
        walk_ins_allowed=walk_ins_allowed,
        scan_required=scan_required,
        status=status,
        rounding_mode=rounding_mode,
        cap_minutes=cap_minutes,
        checkin_secret=secrets.token_bytes(32),
        created_by=creator.id,
        published_at=clock.now() if status != ActivityStatus.draft else None,
    )
    session.add(activity)
    await session.commit()
    return activity


async def sign_up_row(session: AsyncSession, activity: Activity, volunteer: Volunteer) -> Signup:
    """A sign-up written directly, taking a place."""
    signup = Signup(
        region_id=activity.region_id,
        activity_id=activity.id,
        volunteer_id=volunteer.id,
        status=SignupStatus.active,
        walk_in=False,
        signed_up_at=clock.now(),
    )
    session.add(signup)
    fresh = await session.get(Activity, activity.id, populate_existing=True)
    assert fresh is not None
    fresh.signed_up += 1
    await session.commit()
    return signup


def code_of(activity: Activity, at: datetime | None = None) -> str:
    return codes.issue(
        activity.checkin_secret, kind="a", subject_id=activity.id, at=at or clock.now()
    ).code


async def _attend(
    client: httpx.AsyncClient,
    app: Any,
    action: str,
    volunteer: Volunteer,
    activity: Activity,
    *,
    latitude: float = LAT,
    longitude: float = LNG,
    accuracy: float = 15.0,
    code: str | None = None,
    key: str | None = None,
) -> httpx.Response:
    headers = {**auth(app, volunteer), "Idempotency-Key": key or uuid.uuid4().hex}
    return await client.post(
        f"/v1/activities/{activity.id}/{action}",
        json={
            "code": code if code is not None else code_of(activity),
            "latitude": latitude,
            "longitude": longitude,
            "accuracy": accuracy,
        },
        headers=headers,
    )


async def check_in(
    client: httpx.AsyncClient, app: Any, volunteer: Volunteer, activity: Activity, **kw: Any
) -> httpx.Response:
    return await _attend(client, app, "check-in", volunteer, activity, **kw)


async def check_out(
    client: httpx.AsyncClient, app: Any, volunteer: Volunteer, activity: Activity, **kw: Any
) -> httpx.Response:
    return await _attend(client, app, "check-out", volunteer, activity, **kw)


async def attendances_of(reader: Reader, activity: Activity) -> list[Attendance]:
    return list(
        await reader.all(
            select(Attendance)
            .where(Attendance.activity_id == activity.id)
            .order_by(Attendance.checked_in_at)
        )
    )
