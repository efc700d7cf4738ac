"""SQL of the attendances outside the check-in path: the organizer's lists of an activity's
attendances and refusals, the open attendances a finished activity closes, the drills a
volunteer attended and who signed up under a unit."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, Attendance, CheckinRefusal, Signup
from app.core.pagination import Keyset, after_keyset
from app.orgs.models import OrgUnit, Region
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


async def volunteers_signed_up_under(
    session: AsyncSession, *, region_id: uuid.UUID, path: str
) -> list[uuid.UUID]:
    """Everyone who ever signed up for an activity of the unit at `path` or below it."""
    rows = await session.scalars(
        select(Signup.volunteer_id)
        .join(Activity, Activity.id == Signup.activity_id)
        .join(OrgUnit, OrgUnit.id == Activity.org_unit_id)
        .where(Signup.region_id == region_id, OrgUnit.path.startswith(path, autoescape=True))
        .distinct()
    )
    return list(rows)


async def attended_drills(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> list[tuple[Attendance, Activity, str]]:
    """The volunteer's closed attendances at drills, with the activity and its unit's
    name, oldest first."""
    rows = await session.execute(
        select(Attendance, Activity, OrgUnit.name)
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(OrgUnit, OrgUnit.id == Activity.org_unit_id)
        .where(
            Attendance.region_id == region_id,
            Attendance.volunteer_id == volunteer_id,
            Attendance.checked_out_at.is_not(None),
            Activity.drill.is_(True),
        )
        .order_by(Attendance.checked_in_at, Attendance.id)
    )
    return [(attendance, activity, name) for attendance, activity, name in rows]
