"""SQL of the check-in path and the region policy: few round trips, each query indexed.

A check-in reads everything it decides on in one query: the activity with its
region's policy, the caller's sign-up, the count of identical coordinates, and the
volunteer's attendances that matter (this activity's, open ones, and those of the last
hour). Every attendance change holds the volunteer's lock (`lock_volunteer`), so the
checks and the write of one volunteer never interleave with another request's.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Double,
    Select,
    String,
    Uuid,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.activities import geo
from app.activities.models import (
    Activity,
    ActivityPolicy,
    Attendance,
    AttendanceFlag,
    Signup,
    SignupStatus,
)
from app.core import clock
from app.core.db import UTCDateTime, fetch_rows, session_insert
from app.orgs.models import OrgUnit, Region
from app.volunteers.models import Volunteer

# Longest an attendance can stay open: the longest activity (7 days), its check-in
# lead and its check-out window, with room to spare. Bounds the index range scanned.
OPEN_ATTENDANCE_HORIZON = timedelta(days=8)
RECENT = timedelta(hours=1)


@dataclass(frozen=True)
class Policy:
    checkin_opens_before_min: int = 30
    checkout_closes_after_min: int = 60
    daily_cap_minutes: int = 720
    impossible_travel_km: int = 50
    shared_coordinates_threshold: int = 5

    @classmethod
    def of(cls, row: ActivityPolicy | None) -> Policy:
        if row is None:
            return cls()
        return cls(
            checkin_opens_before_min=row.checkin_opens_before_min,
            checkout_closes_after_min=row.checkout_closes_after_min,
            daily_cap_minutes=row.daily_cap_minutes,
            impossible_travel_km=row.impossible_travel_km,
            shared_coordinates_threshold=row.shared_coordinates_threshold,
        )


DEFAULT_POLICY = Policy()


async def policy_for(session: AsyncSession, *, region_id: uuid.UUID) -> Policy:
    row = await session.scalar(select(ActivityPolicy).where(ActivityPolicy.region_id == region_id))
    return Policy.of(row)


async def policy_row(session: AsyncSession, *, region_id: uuid.UUID) -> ActivityPolicy:
    """The region's policy row, created with the defaults and a new key on first use."""
    row = await session.scalar(select(ActivityPolicy).where(ActivityPolicy.region_id == region_id))
    if row is not None:
        return row
    defaults = DEFAULT_POLICY
    values = {
        "id": uuid.uuid4(),
        "region_id": region_id,
        "checkin_opens_before_min": defaults.checkin_opens_before_min,
        "checkout_closes_after_min": defaults.checkout_closes_after_min,
        "daily_cap_minutes": defaults.daily_cap_minutes,
        "impossible_travel_km": defaults.impossible_travel_km,
        "shared_coordinates_threshold": defaults.shared_coordinates_threshold,
        "personal_code_secret": secrets.token_bytes(32),
    }
    now = clock.now()
    values["created_at"] = values["updated_at"] = now
    # Two first uses may race: one insert wins, both read the winner.
    await session.execute(
        session_insert(session)(ActivityPolicy)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["region_id"])
    )
    row = await session.scalar(
        select(ActivityPolicy)
        .where(ActivityPolicy.region_id == region_id)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def _lock_key(namespace: str, value: uuid.UUID) -> int:
    digest = hashlib.sha256(f"{namespace}\x00{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def volunteer_lock_key(volunteer_id: uuid.UUID) -> int:
    """The advisory lock that serializes one volunteer's attendance changes."""
    return _lock_key("attendance", volunteer_id)


async def lock_volunteer(session: AsyncSession, volunteer_id: uuid.UUID) -> None:
    """Serialize attendance changes of one volunteer until the transaction ends.

    SQLite runs one writer at a time (BEGIN IMMEDIATE), so only PostgreSQL needs it.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_ADVISORY_LOCK, {"key": volunteer_lock_key(volunteer_id)})


async def lock_activity(session: AsyncSession, activity_id: uuid.UUID) -> None:
    await session.execute(select(Activity.id).where(Activity.id == activity_id).with_for_update())


@dataclass(frozen=True)
class RecentAttendance:
    """One of the volunteer's attendances, with its activity's place and end."""

    attendance: Attendance
    activity_latitude: float
    activity_longitude: float
    activity_ends_at: datetime


@dataclass
class CheckinContext:
    activity: Activity
    policy: Policy
    timezone: str
    signup_status: SignupStatus | None
    # Check-ins on this activity reported within SHARED_POSITION_M of the caller's position.
    same_coordinates: int
    # The volunteer exists in the region (the token named them; this confirms it).
    volunteer_known: bool
    # The volunteer's attendance at this activity, their open ones, and any with a
    # check-in or check-out in the last hour.
    recent: list[RecentAttendance]


# The policy's values as plain columns, in the order of `Policy`'s fields: the hot path
# needs no entity of them.
_POLICY_COLUMNS = tuple(getattr(ActivityPolicy, f.name) for f in fields(Policy))


@cache
def _context_statement(with_position: bool) -> Select[Any]:
    """The context query, built once: its construction costs more than its execution."""
    activity_id = bindparam("activity_id", type_=Uuid())
    volunteer_id = bindparam("volunteer_id", type_=Uuid())
    region_id = bindparam("region_id", type_=Uuid())
    since = bindparam("since", type_=UTCDateTime())
    horizon = bindparam("horizon", type_=UTCDateTime())
    signup_status = (
        select(Signup.status)
        .where(Signup.activity_id == activity_id, Signup.volunteer_id == volunteer_id)
        .scalar_subquery()
    )
    same_coordinates: ColumnElement[Any]
    if with_position:
        same_coordinates = (
            select(func.count())
            .select_from(Attendance)
            .where(
                Attendance.activity_id == activity_id,
                Attendance.checkin_latitude.between(
                    bindparam("min_lat", type_=Double()), bindparam("max_lat", type_=Double())
                ),
                Attendance.checkin_longitude.between(
                    bindparam("min_lng", type_=Double()), bindparam("max_lng", type_=Double())
                ),
            )
            .scalar_subquery()
        )
    else:
        same_coordinates = literal_column("0")
    volunteer_known = (
        select(Volunteer.id)
        .where(Volunteer.id == volunteer_id, Volunteer.region_id == region_id)
        .exists()
    )
    other = aliased(Activity, name="other_activity")
    recent = and_(
        Attendance.volunteer_id == volunteer_id,
        Attendance.region_id == region_id,
        Attendance.checked_in_at >= horizon,
        or_(
            Attendance.activity_id == activity_id,
            Attendance.checked_out_at.is_(None),
            Attendance.checked_in_at >= since,
            Attendance.checked_out_at >= since,
        ),
    )
    return (
        select(
            Activity,
            *_POLICY_COLUMNS,
            Region.timezone,
            signup_status.label("signup_status"),
            same_coordinates.label("same_coordinates"),
            volunteer_known.label("volunteer_known"),
            Attendance,
            other.latitude,
            other.longitude,
            other.ends_at,
        )
        .join(Region, Region.id == Activity.region_id)
        .outerjoin(ActivityPolicy, ActivityPolicy.region_id == Activity.region_id)
        .outerjoin(Attendance, recent)
        .outerjoin(other, other.id == Attendance.activity_id)
        .where(Activity.id == activity_id, Activity.region_id == region_id)
    )


async def checkin_context(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    activity_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    latitude: float | None,
    longitude: float | None,
    now: datetime,
) -> CheckinContext | None:
    """Everything a check-in or check-out decides on, in one round trip: one row per
    recent attendance of the volunteer (or one row with none), each carrying the
    activity, its region's policy and time zone, the caller's sign-up status, the
    count of check-ins at (within metres of) the caller's position, and whether the
    volunteer exists."""
    with_position = latitude is not None and longitude is not None
    params: dict[str, Any] = {
        "activity_id": activity_id,
        "volunteer_id": volunteer_id,
        "region_id": region_id,
        "since": now - RECENT,
        "horizon": now - OPEN_ATTENDANCE_HORIZON,
    }
    if latitude is not None and longitude is not None:
        box = shared_position_box(latitude, longitude)
        params |= {
            "min_lat": box.min_lat,
            "max_lat": box.max_lat,
            "min_lng": box.min_lng,
            "max_lng": box.max_lng,
        }
    rows = (await session.execute(_context_statement(with_position), params)).all()
    if not rows:
        return None
    first, n = rows[0], len(_POLICY_COLUMNS)
    activity, policy = first[0], tuple(first[1 : 1 + n])
    timezone, status, same, known = first[1 + n : 5 + n]
    return CheckinContext(
        activity=activity,
        # The region may have no policy row yet: then its columns are NULL, the defaults apply.
        policy=DEFAULT_POLICY if policy[0] is None else Policy(*policy),
        timezone=timezone,
        signup_status=SignupStatus(status) if status is not None else None,
        same_coordinates=int(same or 0),
        volunteer_known=bool(known),
        recent=[
            RecentAttendance(attendance, lat, lng, ends)
            for *_, attendance, lat, lng, ends in rows
            if attendance is not None
        ],
    )


# Positions this close count as one: a spoofer replaying the venue's point, or jittering
# it by a metre, is as suspect as one sending it exactly; phones standing side by side
# still differ by more than this in what their GPS reports.
SHARED_POSITION_M = 3.0


def shared_position_box(latitude: float, longitude: float) -> geo.BoundingBox:
    return geo.bounding_box(latitude, longitude, SHARED_POSITION_M)


# The flags as stored text: the JSON list of flag names, each one quoted.
_SHARED_FLAG_TEXT = f'%"{AttendanceFlag.shared_coordinates.value}"%'


async def unflagged_at_coordinates(
    session: AsyncSession, *, activity_id: uuid.UUID, latitude: float, longitude: float
) -> list[Attendance]:
    """Check-ins within SHARED_POSITION_M of these coordinates not yet flagged as shared,
    locked (in id order, so that two check-ins flagging the same rows cannot deadlock)
    until the transaction ends. Once a sweep has flagged them, later check-ins there
    lock nothing."""
    box = shared_position_box(latitude, longitude)
    return list(
        (
            await session.scalars(
                select(Attendance)
                .where(
                    Attendance.activity_id == activity_id,
                    Attendance.checkin_latitude.between(box.min_lat, box.max_lat),
                    Attendance.checkin_longitude.between(box.min_lng, box.max_lng),
                    cast(Attendance.flags, String).not_like(_SHARED_FLAG_TEXT),
                )
                .order_by(Attendance.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).all()
    )


async def signup_of(
    session: AsyncSession, *, activity_id: uuid.UUID, volunteer_id: uuid.UUID
) -> Signup | None:
    return await session.scalar(
        select(Signup).where(Signup.activity_id == activity_id, Signup.volunteer_id == volunteer_id)
    )


async def signed_up_under(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID, unit_paths: list[str]
) -> bool:
    """Whether the volunteer ever signed up for an activity of a unit under one of the
    paths (a unit's path starts with its ancestors')."""
    if not unit_paths:
        return False
    found = await session.scalar(
        select(Signup.id)
        .join(Activity, Activity.id == Signup.activity_id)
        .join(OrgUnit, OrgUnit.id == Activity.org_unit_id)
        .where(
            Signup.region_id == region_id,
            Signup.volunteer_id == volunteer_id,
            or_(*(OrgUnit.path.startswith(path, autoescape=True) for path in unit_paths)),
        )
        .limit(1)
    )
    return found is not None


async def checkin_secret_of(
    session: AsyncSession, *, region_id: uuid.UUID, activity_id: uuid.UUID
) -> bytes | None:
    """The check-in secret of an activity of the region, to tell another activity's
    genuine code from noise."""
    return await session.scalar(
        select(Activity.checkin_secret).where(
            Activity.id == activity_id, Activity.region_id == region_id
        )
    )


_ATTENDANCES = Attendance.metadata.tables[Attendance.__tablename__]
_ATTENDANCE_COLUMNS = tuple(_ATTENDANCES.c)
_INSERT_ATTENDANCE = insert(_ATTENDANCES)


async def insert_attendance(session: AsyncSession, attendance: Attendance) -> None:
    """Write the check-in's attendance. A core insert: the row is complete here, and the
    unit of work has nothing to add. A second attendance of the volunteer for the activity
    raises IntegrityError."""
    await fetch_rows(
        session,
        _INSERT_ATTENDANCE,
        {c.name: getattr(attendance, c.key) for c in _ATTENDANCE_COLUMNS},
    )
