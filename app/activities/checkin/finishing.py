"""Finishing an activity: its open attendances closed as forgotten check-outs (credited up
to the scheduled end), by the organizer or the job once it has ended."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository, schemas
from app.activities.checkin.write import close_attendance
from app.activities.errors import ActivityNotEnded, ActivityStateConflict
from app.activities.models import Activity, ActivityStatus, AttendanceMethod
from app.activities.service import activity_for_organizer, activity_out
from app.core import clock
from app.identity.principals import StaffContext


async def finish(session: AsyncSession, *, activity: Activity) -> int:
    """Close the activity's open attendances as forgotten check-outs and mark it finished.

    The caller holds the activity's row lock. Returns how many attendances were closed.
    """
    now = clock.now()
    timezone = await repository.region_timezone(session, region_id=activity.region_id)
    assert timezone is not None
    policy = await repository.policy_for(session, region_id=activity.region_id)
    still_open = await repository.open_attendances(
        session, region_id=activity.region_id, activity_id=activity.id
    )
    closed = 0
    for attendance in still_open:
        await repository.lock_volunteer(session, attendance.volunteer_id)
        # The volunteer may have checked out while we waited for the lock.
        await session.refresh(attendance)
        if attendance.checked_out_at is not None:
            continue
        await close_attendance(
            session,
            activity=activity,
            attendance=attendance,
            policy=policy,
            timezone=timezone,
            at=now,
            method=AttendanceMethod.auto_close,
            position=None,
        )
        closed += 1
    activity.status = ActivityStatus.finished
    activity.finished_at = now
    await session.flush()
    return closed


async def finish_activity(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID
) -> schemas.Activity:
    """End a published activity once it has ended: open attendances close as forgotten."""
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    await repository.lock_activity(session, activity.id)
    await session.refresh(activity)
    if activity.status != ActivityStatus.published:
        raise ActivityStateConflict(f"A {activity.status} activity cannot be finished")
    if clock.now() < activity.ends_at:
        raise ActivityNotEnded()
    await finish(session, activity=activity)
    return activity_out(activity, exact=True)
