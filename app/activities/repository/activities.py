"""SQL of projects, activities and sign-ups: the listings (soonest first, nearest first
paged in SQL), and capacity compared and changed in the database, so concurrent sign-ups
never overfill an activity."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import geo
from app.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    Project,
    Signup,
    SignupStatus,
)
from app.core.db import rowcount
from app.core.pagination import Keyset, after_keyset
from app.orgs.models import OrgUnit, TeamCategory
from app.volunteers.models import Volunteer


@dataclass(frozen=True)
class ActivityQuery:
    """Which activities a listing holds: `reach` (the unit paths a staff member's roles
    reach) limits drafts to theirs, `subtree` the listing to one unit's."""

    region_id: uuid.UUID
    status: ActivityStatus
    reach: list[str] | None = None
    subtree: str | None = None
    project_id: uuid.UUID | None = None
    category: TeamCategory | None = None
    starts_from: datetime | None = None
    starts_until: datetime | None = None


async def projects_page(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    subtree: str | None,
    category: TeamCategory | None,
    after: Keyset | None,
    limit: int,
) -> list[Project]:
    """Up to `limit + 1` of the region's projects in creation order, after `after`."""
    query = select(Project).where(Project.region_id == region_id)
    if subtree is not None:
        query = query.join(OrgUnit, OrgUnit.id == Project.org_unit_id).where(
            OrgUnit.path.startswith(subtree, autoescape=True)
        )
    if category is not None:
        query = query.where(Project.category == category)
    if after is not None:
        query = query.where(after_keyset(Project.created_at, Project.id, after))
    return list(
        await session.scalars(query.order_by(Project.created_at, Project.id).limit(limit + 1))
    )


def _activities(wanted: ActivityQuery) -> Select[Activity]:
    query = select(Activity).where(
        Activity.region_id == wanted.region_id, Activity.status == wanted.status
    )
    if wanted.reach is not None or wanted.subtree is not None:
        query = query.join(OrgUnit, OrgUnit.id == Activity.org_unit_id)
    if wanted.reach is not None:
        query = query.where(
            or_(*(OrgUnit.path.startswith(p, autoescape=True) for p in wanted.reach))
        )
    if wanted.subtree is not None:
        query = query.where(OrgUnit.path.startswith(wanted.subtree, autoescape=True))
    if wanted.project_id is not None:
        query = query.where(Activity.project_id == wanted.project_id)
    if wanted.category is not None:
        query = query.where(Activity.category == wanted.category)
    if wanted.starts_from is not None:
        query = query.where(Activity.starts_at >= wanted.starts_from)
    if wanted.starts_until is not None:
        query = query.where(Activity.starts_at < wanted.starts_until)
    return query


async def activities_by_start(
    session: AsyncSession, wanted: ActivityQuery, *, after: Keyset | None, limit: int
) -> list[Activity]:
    """Up to `limit + 1` activities, soonest first, after `after`."""
    query = _activities(wanted)
    if after is not None:
        query = query.where(after_keyset(Activity.starts_at, Activity.id, after))
    return list(
        await session.scalars(query.order_by(Activity.starts_at, Activity.id).limit(limit + 1))
    )


async def activities_by_distance(
    session: AsyncSession,
    wanted: ActivityQuery,
    *,
    lat: float,
    lng: float,
    within_km: float,
    after: tuple[float, uuid.UUID] | None,
    limit: int,
) -> list[tuple[Activity, float]]:
    """Up to `limit + 1` activities within `within_km`, nearest first, each with its
    squared distance in km², paged in SQL: the squared distance on the local plane is the
    sort key and the cursor, so a page costs the same however many activities the box
    holds."""
    box = geo.bounding_box(lat, lng, within_km * 1000)
    plane = geo.local_plane(lat, lng)
    dy = (Activity.latitude - plane.lat) * plane.km_per_lat
    dx = (Activity.longitude - plane.lng) * plane.km_per_lng
    km2 = (dx * dx + dy * dy).label("km2")
    ranked = (
        _activities(wanted)
        .add_columns(km2)
        .where(
            Activity.latitude.between(box.min_lat, box.max_lat),
            Activity.longitude.between(box.min_lng, box.max_lng),
            km2 <= within_km**2,
        )
    )
    if after is not None:
        last_km2, last_id = after
        ranked = ranked.where(or_(km2 > last_km2, and_(km2 == last_km2, Activity.id > last_id)))
    rows = await session.execute(ranked.order_by(km2, Activity.id).limit(limit + 1))
    return [(activity, d2) for activity, d2 in rows]


async def has_attendance(
    session: AsyncSession, *, region_id: uuid.UUID, activity_id: uuid.UUID
) -> bool:
    found = await session.scalar(
        select(Attendance.id)
        .where(Attendance.region_id == region_id, Attendance.activity_id == activity_id)
        .limit(1)
    )
    return found is not None


async def set_capacity(session: AsyncSession, *, activity_id: uuid.UUID, capacity: int) -> bool:
    """Lower or raise the capacity unless more have signed up: lowering it races with
    sign-ups, so the database compares."""
    result = await session.execute(
        update(Activity)
        .where(Activity.id == activity_id, Activity.signed_up <= capacity)
        .values(capacity=capacity)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) != 0


async def take_place(session: AsyncSession, *, activity_id: uuid.UUID) -> bool:
    """Take one place if one is left. The database compares and increments in one
    statement, so concurrent sign-ups can never overfill the activity."""
    result = await session.execute(
        update(Activity)
        .where(Activity.id == activity_id, Activity.signed_up < Activity.capacity)
        .values(signed_up=Activity.signed_up + 1)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


async def free_place(session: AsyncSession, *, activity_id: uuid.UUID) -> None:
    await session.execute(
        update(Activity)
        .where(Activity.id == activity_id, Activity.signed_up > 0)
        .values(signed_up=Activity.signed_up - 1)
        .execution_options(synchronize_session=False)
    )


async def active_signup_locked(
    session: AsyncSession, *, region_id: uuid.UUID, activity_id: uuid.UUID, volunteer_id: uuid.UUID
) -> Signup | None:
    """The volunteer's active sign-up, locked against a concurrent cancellation."""
    return await session.scalar(
        select(Signup)
        .where(
            Signup.region_id == region_id,
            Signup.activity_id == activity_id,
            Signup.volunteer_id == volunteer_id,
            Signup.status == SignupStatus.active,
        )
        .with_for_update()
    )


async def has_checked_in(
    session: AsyncSession, *, region_id: uuid.UUID, activity_id: uuid.UUID, volunteer_id: uuid.UUID
) -> bool:
    found = await session.scalar(
        select(Attendance.id).where(
            Attendance.region_id == region_id,
            Attendance.activity_id == activity_id,
            Attendance.volunteer_id == volunteer_id,
        )
    )
    return found is not None


async def signups_page(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    activity_id: uuid.UUID,
    after: Keyset | None,
    limit: int,
) -> list[tuple[Signup, str | None, str]]:
    """Up to `limit + 1` of the activity's sign-ups in order, each with the volunteer's
    name and number."""
    query = (
        select(Signup, Volunteer.name, Volunteer.volunteer_no)
        .join(Volunteer, Volunteer.id == Signup.volunteer_id)
        .where(Signup.region_id == region_id, Signup.activity_id == activity_id)
    )
    if after is not None:
        query = query.where(after_keyset(Signup.signed_up_at, Signup.id, after))
    rows = await session.execute(query.order_by(Signup.signed_up_at, Signup.id).limit(limit + 1))
    return [(signup, name, number) for signup, name, number in rows]
