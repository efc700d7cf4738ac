"""The write of an attendance: admitted at check-in (the windows, the sign-up or a walk-in,
the likely frauds refused, the flags that do not refuse), released at check-out, and
closed into its pending hours record, rounded and within the day's cap."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import codes, repository
from app.activities.checkin.checks import Position, check_distance
from app.activities.checkin.fraud import refuse_likely_fraud
from app.activities.errors import (
    ActivityFull,
    AlreadyCheckedIn,
    AlreadyCheckedOut,
    CheckinTooEarly,
    CheckinTooLate,
    CheckoutTooEarly,
    CheckoutTooLate,
    NotCheckedIn,
    NotSignedUp,
    PersonalCodeUsed,
)
from app.activities.hours import service as hours_service
from app.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    AttendanceFlag,
    AttendanceMethod,
    SignupStatus,
)
from app.activities.repository import CheckinContext, Policy
from app.activities.service import round_minutes, take_signup


async def admit(
    session: AsyncSession,
    *,
    ctx: CheckinContext,
    volunteer_id: uuid.UUID,
    position: Position | None,
    method: AttendanceMethod,
    scanned_by: uuid.UUID | None,
    now: datetime,
) -> Attendance:
    activity, policy = ctx.activity, ctx.policy
    if activity.status == ActivityStatus.finished or now > activity.ends_at:
        raise CheckinTooLate()
    opens = activity.starts_at - timedelta(minutes=policy.checkin_opens_before_min)
    if now < opens:
        raise CheckinTooEarly(f"Check-in opens at {opens.isoformat()}", opens_at=opens.isoformat())
    if position is not None:
        check_distance(activity, position)
    recent = ctx.recent
    if any(r.attendance.activity_id == activity.id for r in recent):
        raise AlreadyCheckedIn()
    signed_up = ctx.signup_status == SignupStatus.active
    if not signed_up and not activity.walk_ins_allowed:
        raise NotSignedUp()
    if not signed_up and activity.signed_up >= activity.capacity:
        raise ActivityFull()
    here = position or Position(activity.latitude, activity.longitude, 0.0)
    await refuse_likely_fraud(
        session, ctx=ctx, volunteer_id=volunteer_id, recent=recent, here=here, now=now
    )
    if not signed_up:
        await _walk_in(session, activity=activity, volunteer_id=volunteer_id, now=now)

    flags: list[str] = []
    if position is not None and position.accuracy == 0:
        flags.append(AttendanceFlag.zero_accuracy)
    shared = (
        position is not None and ctx.same_coordinates + 1 >= policy.shared_coordinates_threshold
    )
    if shared:
        flags.append(AttendanceFlag.shared_coordinates)
    attendance = Attendance(
        id=uuid.uuid4(),
        region_id=activity.region_id,
        activity_id=activity.id,
        volunteer_id=volunteer_id,
        checked_in_at=now,
        checkin_latitude=position.latitude if position else None,
        checkin_longitude=position.longitude if position else None,
        checkin_accuracy=position.accuracy if position else None,
        method=method,
        scanned_by=scanned_by,
        flags=flags,
        created_at=now,
        updated_at=now,
    )
    try:
        await repository.insert_attendance(session, attendance)
    except IntegrityError as exc:
        raise AlreadyCheckedIn() from exc
    if shared and position is not None:
        await _flag_shared_coordinates(session, activity=activity, position=position)
    return attendance


async def _walk_in(
    session: AsyncSession, *, activity: Activity, volunteer_id: uuid.UUID, now: datetime
) -> None:
    """A walk-in takes a place as if they had signed up."""
    signup = await repository.signup_of(session, activity_id=activity.id, volunteer_id=volunteer_id)
    await take_signup(
        session, activity=activity, volunteer_id=volunteer_id, signup=signup, walk_in=True, now=now
    )


async def _flag_shared_coordinates(
    session: AsyncSession, *, activity: Activity, position: Position
) -> None:
    """Once enough volunteers report the very same coordinates, flag all of them."""
    for other in await repository.unflagged_at_coordinates(
        session,
        activity_id=activity.id,
        latitude=position.latitude,
        longitude=position.longitude,
    ):
        if AttendanceFlag.shared_coordinates not in other.flags:
            other.flags = [*other.flags, AttendanceFlag.shared_coordinates]
    await session.flush()


async def release(
    session: AsyncSession,
    *,
    ctx: CheckinContext,
    volunteer_id: uuid.UUID,
    position: Position | None,
    method: AttendanceMethod,
    now: datetime,
    code_window: int | None,
) -> tuple[Attendance, uuid.UUID]:
    activity, policy = ctx.activity, ctx.policy
    if now < activity.starts_at:
        raise CheckoutTooEarly()
    closes = activity.ends_at + timedelta(minutes=policy.checkout_closes_after_min)
    if now > closes:
        raise CheckoutTooLate()
    if position is not None:
        check_distance(activity, position)
    recent = ctx.recent
    attendance = next(
        (r.attendance for r in recent if r.attendance.activity_id == activity.id), None
    )
    if attendance is None:
        raise NotCheckedIn()
    if attendance.checked_out_at is not None:
        raise AlreadyCheckedOut()
    if code_window is not None and code_window <= codes.window_of(attendance.checked_in_at):
        raise PersonalCodeUsed()
    record_id = await close_attendance(
        session,
        activity=activity,
        attendance=attendance,
        policy=policy,
        timezone=ctx.timezone,
        at=now,
        method=method,
        position=position,
    )
    return attendance, record_id


async def close_attendance(
    session: AsyncSession,
    *,
    activity: Activity,
    attendance: Attendance,
    policy: Policy,
    timezone: str,
    at: datetime,
    method: AttendanceMethod,
    position: Position | None,
) -> uuid.UUID:
    """Close the attendance and create its pending hours record; returns the record's id.

    Minutes are those inside the activity's window (`served_minutes`), rounded by its
    rule, capped at its duration, and capped so that the volunteer's credited minutes
    of the day stay within the region's cap.
    """
    flags = list(attendance.flags)
    if method == AttendanceMethod.auto_close:
        # A forgotten check-out is credited up to the scheduled end, no further.
        at = max(attendance.checked_in_at, min(at, activity.ends_at))
        flags.append(AttendanceFlag.auto_closed)
    minutes = round_minutes(served_minutes(activity, attendance.checked_in_at, at), activity)
    service_date = attendance.checked_in_at.astimezone(ZoneInfo(timezone)).date()
    already = await hours_service.credited_minutes_on(
        session,
        region_id=activity.region_id,
        volunteer_id=attendance.volunteer_id,
        service_date=service_date,
    )
    room = max(0, policy.daily_cap_minutes - already)
    if minutes > room:
        minutes = room
        flags.append(AttendanceFlag.daily_cap)
    attendance.checked_out_at = at
    attendance.checkout_method = method
    if position is not None:
        attendance.checkout_latitude = position.latitude
        attendance.checkout_longitude = position.longitude
        attendance.checkout_accuracy = position.accuracy
    attendance.flags = flags
    attendance.credited_minutes = minutes
    await session.flush()
    record = await hours_service.create_checkin_hours(
        session,
        region_id=activity.region_id,
        volunteer_id=attendance.volunteer_id,
        activity_id=activity.id,
        attendance_id=attendance.id,
        minutes=minutes,
        service_date=service_date,
        flags=flags,
    )
    return record.id


def served_minutes(activity: Activity, checked_in_at: datetime, checked_out_at: datetime) -> int:
    """Whole minutes on site inside the activity's window: early arrival (check-in opens
    before the start) and a late stay earn nothing beyond the scheduled times."""
    start = max(checked_in_at, activity.starts_at)
    end = min(checked_out_at, activity.ends_at)
    return max(0, int((end - start).total_seconds() // 60))
