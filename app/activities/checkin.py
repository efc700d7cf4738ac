"""On-site attendance: rotating codes, check-in and check-out (by the volunteer, or by
the organizer scanning the volunteer's code), the anti-fraud checks, and closing
attendances into hours records, forgotten check-outs included.

A refused check-in records nothing, except the likely frauds (impossible travel,
overlapping attendance), kept as `CheckinRefusal` rows for the organizer. Flags that
do not refuse (zero accuracy, shared coordinates, daily cap, auto-closed) are stored
on the attendance and carried to its hours record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import codes, geo, repository, schemas
from app.activities.errors import (
    ActivityCancelled,
    ActivityFull,
    ActivityNotEnded,
    ActivityNotFound,
    ActivityStateConflict,
    AlreadyCheckedIn,
    AlreadyCheckedOut,
    CheckinCodeExpired,
    CheckinCodeInvalid,
    CheckinCodeWrongActivity,
    CheckinTooEarly,
    CheckinTooLate,
    CheckoutTooEarly,
    CheckoutTooLate,
    ImpossibleTravel,
    NotCheckedIn,
    NotSignedUp,
    OrganizerScanRequired,
    OutOfRange,
    OverlappingAttendance,
    PersonalCodeExpired,
    PersonalCodeInvalid,
    PersonalCodeUsed,
)
from app.activities.hours import service as hours_service
from app.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    AttendanceFlag,
    AttendanceMethod,
    CheckinRefusal,
    SignupStatus,
)
from app.activities.repository import CheckinContext, Policy, RecentAttendance
from app.activities.service import (
    activity_for_organizer,
    activity_out,
    round_minutes,
    take_signup,
)
from app.core import clock
from app.core.db import fetch_rows
from app.core.errors import TokenInvalid
from app.core.pagination import Page, PageParams, after_keyset, decode_keyset, keyset_cursor
from app.identity.principals import StaffContext, VolunteerRef
from app.orgs.models import Region
from app.volunteers.models import Volunteer

# A reported accuracy widens the radius, but only this much.
MAX_ACCURACY_ALLOWANCE_M = 100.0


@dataclass(frozen=True)
class Position:
    latitude: float
    longitude: float
    accuracy: float


# Rotating codes


async def activity_code(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID
) -> codes.IssuedCode:
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    if activity.status != ActivityStatus.published:
        raise ActivityStateConflict(f"A {activity.status} activity has no check-in code")
    return codes.issue(activity.checkin_secret, kind="a", subject_id=activity.id, at=clock.now())


async def personal_code(session: AsyncSession, *, volunteer: Volunteer) -> codes.IssuedCode:
    row = await repository.policy_row(session, region_id=volunteer.region_id)
    secret = codes.personal_secret(row.personal_code_secret, volunteer.id)
    return codes.issue(secret, kind="v", subject_id=volunteer.id, at=clock.now())


def rotating_code_out(issued: codes.IssuedCode) -> schemas.RotatingCode:
    return schemas.RotatingCode(
        code=issued.code,
        window=issued.window,
        expires_at=issued.expires_at,
        expires_in=issued.expires_in,
        svg=codes.qr_svg(issued.code),
        png=codes.qr_png_data_uri(issued.code),
    )


async def _parse_activity_code(
    session: AsyncSession, *, code: str, activity_id: uuid.UUID, region_id: uuid.UUID
) -> codes.ParsedCode:
    parsed = codes.parse(code)
    if parsed is None or parsed.kind != "a":
        raise CheckinCodeInvalid()
    if parsed.subject_id != activity_id:
        # Only a genuine code of another activity is "wrong activity"; noise is invalid.
        secret = await session.scalar(
            select(Activity.checkin_secret).where(
                Activity.id == parsed.subject_id, Activity.region_id == region_id
            )
        )
        if secret is not None:
            verdict, _ = codes.verify(secret, parsed, at=clock.now())
            if verdict != codes.Verdict.invalid:
                raise CheckinCodeWrongActivity()
        raise CheckinCodeInvalid()
    return parsed


def _verify_activity_code(activity: Activity, parsed: codes.ParsedCode, now: datetime) -> None:
    verdict, _ = codes.verify(activity.checkin_secret, parsed, at=now)
    if verdict == codes.Verdict.invalid:
        raise CheckinCodeInvalid()
    if verdict == codes.Verdict.expired:
        raise CheckinCodeExpired()


async def _verify_personal_code(
    session: AsyncSession, *, region_id: uuid.UUID, code: str, now: datetime
) -> tuple[uuid.UUID, int]:
    """The volunteer a personal code names, and its window."""
    parsed = codes.parse(code)
    if parsed is None or parsed.kind != "v":
        raise PersonalCodeInvalid()
    volunteer = await session.get(Volunteer, parsed.subject_id)
    if volunteer is None or volunteer.region_id != region_id:
        raise PersonalCodeInvalid()
    row = await repository.policy_row(session, region_id=region_id)
    secret = codes.personal_secret(row.personal_code_secret, volunteer.id)
    verdict, window = codes.verify(secret, parsed, at=now)
    if verdict == codes.Verdict.invalid:
        raise PersonalCodeInvalid()
    if verdict == codes.Verdict.expired:
        raise PersonalCodeExpired()
    return volunteer.id, window


# Check-in and check-out


async def _context(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    activity_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    position: Position | None,
    now: datetime,
) -> CheckinContext:
    ctx = await repository.checkin_context(
        session,
        region_id=region_id,
        activity_id=activity_id,
        volunteer_id=volunteer_id,
        latitude=position.latitude if position else None,
        longitude=position.longitude if position else None,
        now=now,
    )
    if ctx is None or ctx.activity.status == ActivityStatus.draft:
        raise ActivityNotFound()
    if not ctx.volunteer_known:
        raise TokenInvalid("The token's volunteer no longer exists")
    if ctx.activity.status == ActivityStatus.cancelled:
        raise ActivityCancelled()
    return ctx


def _check_distance(activity: Activity, position: Position) -> None:
    distance = geo.haversine_m(
        activity.latitude, activity.longitude, position.latitude, position.longitude
    )
    allowed = activity.radius_m + min(position.accuracy, MAX_ACCURACY_ALLOWANCE_M)
    if distance > allowed:
        raise OutOfRange(
            f"You are {distance:.0f} m from the activity; the limit is {allowed:.0f} m",
            distance_m=round(distance),
            allowed_m=round(allowed),
        )


async def _on_site(
    session: AsyncSession,
    *,
    volunteer: VolunteerRef,
    activity_id: uuid.UUID,
    data: schemas.CheckinRequest,
    count_same_coordinates: bool,
) -> tuple[CheckinContext, Position, datetime]:
    """The context of a volunteer's own check-in or check-out, its code verified.

    The caller holds the volunteer's attendance lock, taken with the idempotency claim
    (`repository.volunteer_lock_key`)."""
    now = clock.now()
    parsed = await _parse_activity_code(
        session, code=data.code, activity_id=activity_id, region_id=volunteer.region_id
    )
    position = Position(data.latitude, data.longitude, data.accuracy)
    ctx = await _context(
        session,
        region_id=volunteer.region_id,
        activity_id=activity_id,
        volunteer_id=volunteer.id,
        position=position if count_same_coordinates else None,
        now=now,
    )
    _verify_activity_code(ctx.activity, parsed, now)
    return ctx, position, now


def _self_scan_allowed(ctx: CheckinContext) -> None:
    """A high-value activity admits no check-in or check-out of the volunteer's own."""
    if ctx.activity.scan_required:
        raise OrganizerScanRequired()


async def check_in(
    session: AsyncSession,
    *,
    volunteer: VolunteerRef,
    activity_id: uuid.UUID,
    data: schemas.CheckinRequest,
) -> schemas.Attendance:
    ctx, position, now = await _on_site(
        session,
        volunteer=volunteer,
        activity_id=activity_id,
        data=data,
        count_same_coordinates=True,
    )
    _self_scan_allowed(ctx)
    attendance = await _admit(
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
    ctx, position, now = await _on_site(
        session,
        volunteer=volunteer,
        activity_id=activity_id,
        data=data,
        count_same_coordinates=False,
    )
    _self_scan_allowed(ctx)
    attendance, hours_id = await _release(
        session,
        ctx=ctx,
        volunteer_id=volunteer.id,
        position=position,
        method=AttendanceMethod.code,
        now=now,
        code_window=None,
    )
    return _attendance_out(attendance, hours_id)


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
    volunteer_id, window = await _verify_personal_code(
        session, region_id=activity.region_id, code=data.code, now=now
    )
    await repository.lock_volunteer(session, volunteer_id)
    ctx = await _context(
        session,
        region_id=activity.region_id,
        activity_id=activity.id,
        volunteer_id=volunteer_id,
        position=None,
        now=now,
    )
    if data.action == "check_in":
        attendance = await _admit(
            session,
            ctx=ctx,
            volunteer_id=volunteer_id,
            position=None,
            method=AttendanceMethod.organizer_scan,
            scanned_by=staff.id,
            now=now,
        )
        return schemas.Attendance.model_validate(attendance)
    attendance, hours_id = await _release(
        session,
        ctx=ctx,
        volunteer_id=volunteer_id,
        position=None,
        method=AttendanceMethod.organizer_scan,
        now=now,
        code_window=window,
    )
    return _attendance_out(attendance, hours_id)


def _attendance_out(attendance: Attendance, hours_id: uuid.UUID | None) -> schemas.Attendance:
    out = schemas.Attendance.model_validate(attendance)
    out.hours_record_id = hours_id
    return out


async def _admit(
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
        _check_distance(activity, position)
    recent = ctx.recent
    if any(r.attendance.activity_id == activity.id for r in recent):
        raise AlreadyCheckedIn()
    signed_up = ctx.signup_status == SignupStatus.active
    if not signed_up and not activity.walk_ins_allowed:
        raise NotSignedUp()
    if not signed_up and activity.signed_up >= activity.capacity:
        raise ActivityFull()
    here = position or Position(activity.latitude, activity.longitude, 0.0)
    await _refuse_likely_fraud(
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
    # A core insert: the row is complete here, and the unit of work has nothing to add.
    try:
        await fetch_rows(
            session,
            _INSERT_ATTENDANCE,
            {c.name: getattr(attendance, c.key) for c in _ATTENDANCE_COLUMNS},
        )
    except IntegrityError as exc:
        raise AlreadyCheckedIn() from exc
    if shared and position is not None:
        await _flag_shared_coordinates(session, activity=activity, position=position)
    return attendance


_ATTENDANCES = Attendance.metadata.tables[Attendance.__tablename__]
_ATTENDANCE_COLUMNS = tuple(_ATTENDANCES.c)
_INSERT_ATTENDANCE = insert(_ATTENDANCES)


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


def _last_seen(recent: list[RecentAttendance], *, since: datetime) -> tuple[float, float] | None:
    """Where the volunteer last checked in or out within the hour, if anywhere."""
    seen: list[tuple[datetime, float, float]] = []
    for r in recent:
        a = r.attendance
        if a.checked_in_at >= since:
            seen.append(
                (
                    a.checked_in_at,
                    a.checkin_latitude if a.checkin_latitude is not None else r.activity_latitude,
                    a.checkin_longitude
                    if a.checkin_longitude is not None
                    else r.activity_longitude,
                )
            )
        # An automatic close says nothing about where the volunteer was.
        if (
            a.checked_out_at is not None
            and a.checked_out_at >= since
            and a.checkout_method != AttendanceMethod.auto_close
        ):
            seen.append(
                (
                    a.checked_out_at,
                    a.checkout_latitude if a.checkout_latitude is not None else r.activity_latitude,
                    a.checkout_longitude
                    if a.checkout_longitude is not None
                    else r.activity_longitude,
                )
            )
    if not seen:
        return None
    _, lat, lng = max(seen, key=lambda s: s[0])
    return lat, lng


async def _refuse_likely_fraud(
    session: AsyncSession,
    *,
    ctx: CheckinContext,
    volunteer_id: uuid.UUID,
    recent: list[RecentAttendance],
    here: Position,
    now: datetime,
) -> None:
    activity = ctx.activity
    elsewhere = [r for r in recent if r.attendance.activity_id != activity.id]
    still_open = [
        r for r in elsewhere if r.attendance.checked_out_at is None and r.activity_ends_at > now
    ]
    if still_open:
        other = still_open[0].attendance.activity_id
        await _record_refusal(
            session,
            ctx=ctx,
            volunteer_id=volunteer_id,
            reason=OverlappingAttendance.code,
            here=here,
            now=now,
            detail={"other_activity_id": str(other)},
        )
        raise OverlappingAttendance(other_activity_id=str(other))
    last = _last_seen(elsewhere, since=now - repository.RECENT)
    if last is None:
        return
    distance_km = geo.haversine_m(last[0], last[1], here.latitude, here.longitude) / 1000
    if distance_km > ctx.policy.impossible_travel_km:
        await _record_refusal(
            session,
            ctx=ctx,
            volunteer_id=volunteer_id,
            reason=ImpossibleTravel.code,
            here=here,
            now=now,
            detail={"distance_km": round(distance_km, 1)},
        )
        raise ImpossibleTravel(distance_km=round(distance_km, 1))


async def _record_refusal(
    session: AsyncSession,
    *,
    ctx: CheckinContext,
    volunteer_id: uuid.UUID,
    reason: str,
    here: Position,
    now: datetime,
    detail: dict[str, Any],
) -> None:
    session.add(
        CheckinRefusal(
            region_id=ctx.activity.region_id,
            activity_id=ctx.activity.id,
            volunteer_id=volunteer_id,
            reason=reason,
            latitude=here.latitude,
            longitude=here.longitude,
            accuracy=here.accuracy,
            detail=detail,
            at=now,
        )
    )
    await session.flush()


async def _release(
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
        _check_distance(activity, position)
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


# Finishing: forgotten check-outs


async def finish(session: AsyncSession, *, activity: Activity) -> int:
    """Close the activity's open attendances as forgotten check-outs and mark it finished.

    The caller holds the activity's row lock. Returns how many attendances were closed.
    """
    now = clock.now()
    timezone = await session.scalar(select(Region.timezone).where(Region.id == activity.region_id))
    assert timezone is not None
    policy = await repository.policy_for(session, region_id=activity.region_id)
    still_open = (
        await session.scalars(
            select(Attendance)
            .where(
                Attendance.region_id == activity.region_id,
                Attendance.activity_id == activity.id,
                Attendance.checked_out_at.is_(None),
            )
            .order_by(Attendance.id)
        )
    ).all()
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


# Organizer views


async def list_attendances(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID, page: PageParams
) -> Page[schemas.AttendanceWithVolunteer]:
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    query = (
        select(Attendance, Volunteer.name, Volunteer.volunteer_no)
        .join(Volunteer, Volunteer.id == Attendance.volunteer_id)
        .where(Attendance.region_id == activity.region_id, Attendance.activity_id == activity.id)
    )
    after = decode_keyset(page.cursor)
    if after is not None:
        query = query.where(after_keyset(Attendance.checked_in_at, Attendance.id, after))
    rows = (
        await session.execute(
            query.order_by(Attendance.checked_in_at, Attendance.id).limit(page.limit + 1)
        )
    ).all()
    items = [
        schemas.AttendanceWithVolunteer.model_validate(
            {
                **schemas.Attendance.model_validate(a).model_dump(),
                "volunteer_name": name,
                "volunteer_no": number,
            }
        )
        for a, name, number in rows[: page.limit]
    ]
    next_cursor = None
    if len(rows) > page.limit:
        last = rows[page.limit - 1][0]
        next_cursor = keyset_cursor(last.checked_in_at, last.id)
    return Page(items=items, next_cursor=next_cursor)


async def list_refusals(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID, page: PageParams
) -> Page[schemas.CheckinRefusal]:
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    query = select(CheckinRefusal).where(
        CheckinRefusal.region_id == activity.region_id,
        CheckinRefusal.activity_id == activity.id,
    )
    after = decode_keyset(page.cursor)
    if after is not None:
        query = query.where(after_keyset(CheckinRefusal.at, CheckinRefusal.id, after))
    rows = (
        await session.scalars(
            query.order_by(CheckinRefusal.at, CheckinRefusal.id).limit(page.limit + 1)
        )
    ).all()
    items = [schemas.CheckinRefusal.model_validate(r) for r in rows[: page.limit]]
    next_cursor = None
    if len(rows) > page.limit:
        last = rows[page.limit - 1]
        next_cursor = keyset_cursor(last.at, last.id)
    return Page(items=items, next_cursor=next_cursor)
