"""What the rest of `activities` and other features share: the activity looked up in
its region, the organizer's check, durations and the rounding of minutes (for hours), who
a staff member may see (for volunteers), and the activity as its reader may see it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository, schemas
from app.activities.errors import ActivityNotFound
from app.activities.models import Activity, ActivityStatus, RoundingMode
from app.core.pagination import Page, PageParams, keyset_page
from app.identity.principals import StaffContext
from app.orgs import service as orgs
from app.orgs.authz import require_on_unit

Listed = TypeVar("Listed", bound=BaseModel)

# Of a started hour, fewer minutes than this earn nothing, then half an hour, then the hour.
HALF_HOUR_FROM = 15
FULL_HOUR_FROM = 45


async def get_activity(
    session: AsyncSession, *, region_id: uuid.UUID, activity_id: uuid.UUID
) -> Activity:
    """The activity, or 404 when it does not exist or belongs to another region."""
    activity = await session.get(Activity, activity_id)
    if activity is None or activity.region_id != region_id:
        raise ActivityNotFound()
    return activity


async def volunteer_in_reach(
    session: AsyncSession, *, staff: StaffContext, volunteer_id: uuid.UUID
) -> bool:
    """Whether a staff member may see a volunteer of their region: a center admin sees
    every one, other staff those who signed up with a unit their roles reach."""
    if staff.is_center_admin:
        return True
    return await repository.signed_up_under(
        session,
        region_id=staff.region_id,
        volunteer_id=volunteer_id,
        unit_paths=staff.unit_paths,
    )


def duration_minutes(activity: Activity) -> int:
    return int((activity.ends_at - activity.starts_at).total_seconds() // 60)


def cap_minutes(activity: Activity) -> int:
    """Most minutes one attendance earns: the activity's cap, never more than its duration."""
    duration = duration_minutes(activity)
    return min(activity.cap_minutes, duration) if activity.cap_minutes else duration


def round_minutes(raw_minutes: int, activity: Activity) -> int:
    """Minutes credited for `raw_minutes` on site, by the activity's rule, capped."""
    raw = max(0, raw_minutes)
    if activity.rounding_mode == RoundingMode.half_hour:
        hours, rest = divmod(raw, 60)
        rounded = hours * 60
        if rest >= FULL_HOUR_FROM:
            rounded += 60
        elif rest >= HALF_HOUR_FROM:
            rounded += 30
    else:
        rounded = raw
    return min(rounded, cap_minutes(activity))


async def organizer_unit_check(
    session: AsyncSession, *, staff: StaffContext, activity: Activity
) -> None:
    """403 unless the staff member's roles reach the activity's unit; 404 across regions."""
    if activity.region_id != staff.region_id:
        raise ActivityNotFound()
    unit = await orgs.unit_in_region(
        session, region_id=activity.region_id, unit_id=activity.org_unit_id
    )
    require_on_unit(staff, unit)


async def activity_for_organizer(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID
) -> Activity:
    activity = await get_activity(session, region_id=staff.region_id, activity_id=activity_id)
    await organizer_unit_check(session, staff=staff, activity=activity)
    return activity


async def visible_activity(
    session: AsyncSession, *, region_id: uuid.UUID, activity_id: uuid.UUID
) -> Activity:
    """An activity a volunteer may see: anything but a draft."""
    activity = await get_activity(session, region_id=region_id, activity_id=activity_id)
    if activity.status == ActivityStatus.draft:
        raise ActivityNotFound()
    return activity


_ACTIVITY_FIELDS = tuple(
    name for name in schemas.Activity.model_fields if name not in ("places_left", "distance_m")
)


# What volunteers and the public see of the venue: enough for a map and directions, not
# the exact point and radius a relayed code plus a spoofed position would aim at.
PUBLIC_COORDINATE_DECIMALS = 3
PUBLIC_RADIUS_STEP_M = 100


def activity_out(
    activity: Activity, *, exact: bool, distance_m: float | None = None
) -> schemas.Activity:
    """The activity as its reader may see it: `exact` (the region's staff) with the venue's
    point and radius, otherwise with both coarsened."""
    fields = {name: getattr(activity, name) for name in _ACTIVITY_FIELDS}
    if not exact:
        fields["latitude"] = round(activity.latitude, PUBLIC_COORDINATE_DECIMALS)
        fields["longitude"] = round(activity.longitude, PUBLIC_COORDINATE_DECIMALS)
        fields["radius_m"] = -(-activity.radius_m // PUBLIC_RADIUS_STEP_M) * PUBLIC_RADIUS_STEP_M
    return schemas.Activity.model_validate(
        {
            **fields,
            "places_left": max(0, activity.capacity - activity.signed_up),
            "distance_m": round(distance_m, 1) if distance_m is not None else None,
        }
    )


async def subtree_path(
    session: AsyncSession, *, region_id: uuid.UUID, unit_id: uuid.UUID | None
) -> str | None:
    """The path of a unit of the region (404 otherwise), which a listing's subtree filter
    matches; None for no unit."""
    if unit_id is None:
        return None
    unit = await orgs.unit_in_region(session, region_id=region_id, unit_id=unit_id)
    return unit.path


def with_volunteers(
    rows: Sequence[tuple[Any, str | None, str]],
    page: PageParams,
    *,
    base: type[BaseModel],
    schema: type[Listed],
    at: Callable[[Any], datetime],
) -> Page[Listed]:
    """A page of an activity's rows (sign-ups, attendances), each with its volunteer's name
    and number, from the `limit + 1` read; the cursor is the last one's `at` and id."""
    return keyset_page(
        rows,
        page,
        key=lambda listed: (at(listed[0]), listed[0].id),
        out=lambda listed: schema.model_validate(
            {
                **base.model_validate(listed[0]).model_dump(),
                "volunteer_name": listed[1],
                "volunteer_no": listed[2],
            }
        ),
    )
