"""Activities other features hold for their own ends: the muster of an emergency call-out
(published at once, walk-ins admitted, so that whoever answers the call checks in with the
code shown at the muster point, and hours and 良票 follow the usual rules), and the drills
(演练) a volunteer attended, which their service record lists as training."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository
from app.activities.checkin.finishing import finish
from app.activities.models import Activity, ActivityStatus
from app.core import clock
from app.orgs.models import TeamCategory

# The muster's check-in radius around the muster point.
MUSTER_RADIUS_M = 300


@dataclass(frozen=True)
class Muster:
    region_id: uuid.UUID
    org_unit_id: uuid.UUID
    title: str
    description: str
    address: str
    latitude: float
    longitude: float
    starts_at: datetime
    ends_at: datetime
    capacity: int
    drill: bool
    created_by: uuid.UUID


async def open_muster(session: AsyncSession, muster: Muster) -> uuid.UUID:
    """Create the muster's activity, published; returns its id."""
    now = clock.now()
    activity = Activity(
        region_id=muster.region_id,
        org_unit_id=muster.org_unit_id,
        title=muster.title,
        description=muster.description,
        category=TeamCategory.custom,
        starts_at=muster.starts_at,
        ends_at=muster.ends_at,
        latitude=muster.latitude,
        longitude=muster.longitude,
        address=muster.address,
        radius_m=MUSTER_RADIUS_M,
        capacity=muster.capacity,
        signed_up=0,
        walk_ins_allowed=True,
        drill=muster.drill,
        status=ActivityStatus.published,
        published_at=now,
        checkin_secret=secrets.token_bytes(32),
        created_by=muster.created_by,
    )
    session.add(activity)
    await session.flush()
    return activity.id


async def widen_muster(session: AsyncSession, *, activity_id: uuid.UUID, capacity: int) -> None:
    """Room for at least `capacity` at the muster (never fewer places than before)."""
    activity = await session.get(Activity, activity_id)
    if activity is not None and capacity > activity.capacity:
        await repository.set_capacity(session, activity_id=activity_id, capacity=capacity)


async def close_muster(session: AsyncSession, *, activity_id: uuid.UUID) -> ActivityStatus:
    """End the muster now: cancelled when no one checked in, otherwise finished, its
    open attendances closed at this moment. Returns the activity's status."""
    await repository.lock_activity(session, activity_id)
    activity = await session.get(Activity, activity_id)
    assert activity is not None
    await session.refresh(activity)
    if activity.status not in (ActivityStatus.draft, ActivityStatus.published):
        return activity.status
    now = clock.now()
    if not await repository.has_attendance(
        session, region_id=activity.region_id, activity_id=activity.id
    ):
        activity.status = ActivityStatus.cancelled
        activity.cancelled_at = now
        activity.cancel_reason = "The call-out was stood down"
        await session.flush()
        return activity.status
    if activity.starts_at < now < activity.ends_at:
        activity.ends_at = now
    await finish(session, activity=activity)
    return activity.status


@dataclass(frozen=True)
class DrillAttended:
    activity_id: uuid.UUID
    title: str
    org_unit_name: str
    trained_on: date
    minutes: int


async def attended_drills(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> list[DrillAttended]:
    """The drills the volunteer checked in and out of, oldest first, each on the region's
    calendar day of the check-in, with the minutes it credited."""
    rows = await repository.attended_drills(session, region_id=region_id, volunteer_id=volunteer_id)
    if not rows:
        return []
    timezone = ZoneInfo(await repository.region_timezone(session, region_id=region_id) or "UTC")
    return [
        DrillAttended(
            activity_id=activity.id,
            title=activity.title,
            org_unit_name=unit_name,
            trained_on=attendance.checked_in_at.astimezone(timezone).date(),
            minutes=attendance.credited_minutes or 0,
        )
        for attendance, activity, unit_name in rows
    ]


async def volunteers_signed_up_under(
    session: AsyncSession, *, region_id: uuid.UUID, path: str
) -> list[uuid.UUID]:
    """Everyone who ever signed up for an activity of the unit at `path` or below."""
    return await repository.volunteers_signed_up_under(session, region_id=region_id, path=path)
