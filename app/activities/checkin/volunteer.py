"""A volunteer's own check-in and check-out with the activity's rotating code, on site.
The caller holds the volunteer's attendance lock (taken with the idempotency claim)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import schemas
from app.activities.checkin.checks import attendance_out, on_site, self_scan_allowed
from app.activities.checkin.write import admit, release
from app.activities.models import AttendanceMethod
from app.identity.principals import VolunteerRef


async def check_in(
    session: AsyncSession,
    *,
    volunteer: VolunteerRef,
    activity_id: uuid.UUID,
    data: schemas.CheckinRequest,
) -> schemas.Attendance:
    ctx, position, now = await on_site(
        session,
        volunteer=volunteer,
        activity_id=activity_id,
        data=data,
        count_same_coordinates=True,
    )
    self_scan_allowed(ctx)
    attendance = await admit(
        session,
        ctx=ctx,
        volunteer_id=volunteer.id,
        position=position,
        method=AttendanceMethod.code,
        scanned_by=None,
        now=now,
    )
    return schemas.Attendance.model_validate(attendance)


async def check_out(
    session: AsyncSession,
    *,
    volunteer: VolunteerRef,
    activity_id: uuid.UUID,
    data: schemas.CheckinRequest,
) -> schemas.Attendance:
    ctx, position, now = await on_site(
        session,
        volunteer=volunteer,
        activity_id=activity_id,
        data=data,
        count_same_coordinates=False,
    )
    self_scan_allowed(ctx)
    attendance, hours_id = await release(
        session,
        ctx=ctx,
        volunteer_id=volunteer.id,
        position=position,
        method=AttendanceMethod.code,
        now=now,
        code_window=None,
    )
    return attendance_out(attendance, hours_id)
