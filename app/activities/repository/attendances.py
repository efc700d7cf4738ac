"""SQL of the attendances outside the check-in path: the organizer's lists of an activity's
attendances and refusals, and the open attendances a finished activity closes."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Attendance, CheckinRefusal
from app.core.pagination import Keyset, after_keyset
from app.orgs.models import Region
from app.volunteers.models import Volunteer


async def region_timezone(session: AsyncSession, *, region_id: uuid.UUID) -> str | None:
    return await session.scalar(select(Region.timezone).where(Region.id == region_id))


async def open_attendances(
    session: AsyncSession, *, region_id: uuid.UUID, activity_id: uuid.UUID
) -> list[Attendance]:
    """The activity's attendances not checked out yet, in id order."""
    return list(
        await session.scalars(
            select(Attendance)
            .where(
                Attendance.region_id == region_id,
                Attendance.activity_id == activity_id,
                Attendance.checked_out_at.is_(None),
            )
            .order_by(Attendance.id)
        )
    )


async def attendances_page(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    activity_id: uuid.UUID,
    after: Keyset | None,
    limit: int,
) -> list[tuple[Attendance, str | None, str]]:
    """Up to `limit + 1` of the activity's attendances by check-in time, each with the
    volunteer's name and number."""
    query = (
        select(Attendance, Volunteer.name, Volunteer.volunteer_no)
        .join(Volunteer, Volunteer.id == Attendance.volunteer_id)
        .where(Attendance.region_id == region_id, Attendance.activity_id == activity_id)
    )
    if after is not None:
        query = query.where(after_keyset(Attendance.checked_in_at, Attendance.id, after))
    rows = await session.execute(
        query.order_by(Attendance.checked_in_at, Attendance.id).limit(limit + 1)
    )
    return [(attendance, name, number) for attendance, name, number in rows]


async def refusals_page(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    activity_id: uuid.UUID,
    after: Keyset | None,
    limit: int,
) -> list[CheckinRefusal]:
    """Up to `limit + 1` of the activity's refused check-ins, oldest first."""
    query = select(CheckinRefusal).where(
        CheckinRefusal.region_id == region_id,
        CheckinRefusal.activity_id == activity_id,
    )
    if after is not None:
        query = query.where(after_keyset(CheckinRefusal.at, CheckinRefusal.id, after))
    return list(
        await session.scalars(query.order_by(CheckinRefusal.at, CheckinRefusal.id).limit(limit + 1))
    )
