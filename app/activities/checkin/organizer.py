"""The organizer's side of attendance: checking a volunteer in or out by scanning their
personal code, and the lists of an activity's attendances and refused check-ins."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository, schemas
from app.activities.checkin.checks import attendance_out, context, verify_personal_code
from app.activities.checkin.write import admit, release
from app.activities.models import AttendanceMethod
from app.activities.service import activity_for_organizer, with_volunteers
from app.core import clock
from app.core.pagination import Page, PageParams, decode_keyset, keyset_cursor
from app.identity.principals import StaffContext


async def scan(
    session: AsyncSession,
    *,
    staff: StaffContext,
    activity_id: uuid.UUID,
    data: schemas.ScanRequest,
) -> schemas.Attendance:
    """The organizer checks a volunteer in or out by scanning the volunteer's code."""
    now = clock.now()
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    volunteer_id, window = await verify_personal_code(
        session, region_id=activity.region_id, code=data.code, now=now
    )
    await repository.lock_volunteer(session, volunteer_id)
    ctx = await context(
        session,
        region_id=activity.region_id,
        activity_id=activity.id,
        volunteer_id=volunteer_id,
        position=None,
        now=now,
    )
    if data.action == "check_in":
        attendance = await admit(
            session,
            ctx=ctx,
            volunteer_id=volunteer_id,
            position=None,
            method=AttendanceMethod.organizer_scan,
            scanned_by=staff.id,
            now=now,
        )
        return schemas.Attendance.model_validate(attendance)
    attendance, hours_id = await release(
        session,
        ctx=ctx,
        volunteer_id=volunteer_id,
        position=None,
        method=AttendanceMethod.organizer_scan,
        now=now,
        code_window=window,
    )
    return attendance_out(attendance, hours_id)


async def list_attendances(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID, page: PageParams
) -> Page[schemas.AttendanceWithVolunteer]:
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    rows = await repository.attendances_page(
        session,
        region_id=activity.region_id,
        activity_id=activity.id,
        after=decode_keyset(page.cursor),
        limit=page.limit,
    )
    return with_volunteers(
        rows,
        page,
        base=schemas.Attendance,
        schema=schemas.AttendanceWithVolunteer,
        at=lambda row: row.checked_in_at,
    )


async def list_refusals(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID, page: PageParams
) -> Page[schemas.CheckinRefusal]:
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    rows = await repository.refusals_page(
        session,
        region_id=activity.region_id,
        activity_id=activity.id,
        after=decode_keyset(page.cursor),
        limit=page.limit,
    )
    items = [schemas.CheckinRefusal.model_validate(r) for r in rows[: page.limit]]
    next_cursor = None
    if len(rows) > page.limit:
        last = rows[page.limit - 1]
        next_cursor = keyset_cursor(last.at, last.id)
    return Page(items=items, next_cursor=next_cursor)
