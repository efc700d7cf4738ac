"""The checks of an attendance: the rotating codes (the activity's, shown by its
organizer; the volunteer's own, scanned by the organizer), the reported position
against the venue's radius, and the check-in's context read in one statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import codes, geo, repository, schemas
from app.activities.errors import (
    ActivityCancelled,
    ActivityNotFound,
    ActivityStateConflict,
    CheckinCodeExpired,
    CheckinCodeInvalid,
    CheckinCodeWrongActivity,
    OrganizerScanRequired,
    OutOfRange,
    PersonalCodeExpired,
    PersonalCodeInvalid,
)
from app.activities.models import Activity, ActivityStatus, Attendance
from app.activities.repository import CheckinContext
from app.activities.service import activity_for_organizer
from app.core import clock
from app.core.errors import TokenInvalid
from app.identity.principals import StaffContext, VolunteerRef
from app.volunteers.models import Volunteer

# A reported accuracy widens the radius, but only this much.
MAX_ACCURACY_ALLOWANCE_M = 100.0


@dataclass(frozen=True)
class Position:
    latitude: float
    longitude: float
    accuracy: float


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


async def parse_activity_code(
    session: AsyncSession, *, code: str, activity_id: uuid.UUID, region_id: uuid.UUID
) -> codes.ParsedCode:
    parsed = codes.parse(code)
    if parsed is None or parsed.kind != "a":
        raise CheckinCodeInvalid()
    if parsed.subject_id != activity_id:
        # Only a genuine code of another activity is "wrong activity"; noise is invalid.
        secret = await repository.checkin_secret_of(
            session, region_id=region_id, activity_id=parsed.subject_id
        )
        if secret is not None:
            verdict, _ = codes.verify(secret, parsed, at=clock.now())
            if verdict != codes.Verdict.invalid:
                raise CheckinCodeWrongActivity()
        raise CheckinCodeInvalid()
    return parsed


def verify_activity_code(activity: Activity, parsed: codes.ParsedCode, now: datetime) -> None:
    verdict, _ = codes.verify(activity.checkin_secret, parsed, at=now)
    if verdict == codes.Verdict.invalid:
        raise CheckinCodeInvalid()
    if verdict == codes.Verdict.expired:
        raise CheckinCodeExpired()


async def verify_personal_code(
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


async def context(
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


def check_distance(activity: Activity, position: Position) -> None:
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


async def on_site(
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
    parsed = await parse_activity_code(
        session, code=data.code, activity_id=activity_id, region_id=volunteer.region_id
    )
    position = Position(data.latitude, data.longitude, data.accuracy)
    ctx = await context(
        session,
        region_id=volunteer.region_id,
        activity_id=activity_id,
        volunteer_id=volunteer.id,
        position=position if count_same_coordinates else None,
        now=now,
    )
    verify_activity_code(ctx.activity, parsed, now)
    return ctx, position, now


def self_scan_allowed(ctx: CheckinContext) -> None:
    """A high-value activity admits no check-in or check-out of the volunteer's own."""
    if ctx.activity.scan_required:
        raise OrganizerScanRequired()


def attendance_out(attendance: Attendance, hours_id: uuid.UUID | None) -> schemas.Attendance:
    out = schemas.Attendance.model_validate(attendance)
    out.hours_record_id = hours_id
    return out
