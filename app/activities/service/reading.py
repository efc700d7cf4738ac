"""Reading activities: one as its reader may see it, and the region's listings, by unit,
project, category and date, soonest first or nearest first around a point."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository, schemas
from app.activities.errors import ActivityNotFound
from app.activities.models import ActivityStatus
from app.activities.service.contract import (
    activity_out,
    get_activity,
    organizer_unit_check,
    subtree_path,
)
from app.core import clock
from app.core.errors import Forbidden
from app.core.pagination import (
    Page,
    PageParams,
    decode_cursor,
    decode_keyset,
    encode_cursor,
    keyset_cursor,
    parse_cursor_id,
    parse_cursor_number,
)
from app.identity.principals import StaffContext
from app.orgs.models import TeamCategory

# Who may list activities of statuses other than these: staff, on their units.
PUBLIC_STATUSES = frozenset(
    {ActivityStatus.published, ActivityStatus.finished, ActivityStatus.cancelled}
)
MAX_DISTANCE_KM = 200


async def get_activity_for(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    staff: StaffContext | None,
    activity_id: uuid.UUID,
) -> schemas.Activity:
    activity = await get_activity(session, region_id=region_id, activity_id=activity_id)
    if activity.status == ActivityStatus.draft:
        if staff is None:
            raise ActivityNotFound()
        await organizer_unit_check(session, staff=staff, activity=activity)
    return activity_out(activity, exact=staff is not None)


@dataclass(frozen=True)
class ActivityFilters:
    unit_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    category: TeamCategory | None = None
    status: ActivityStatus = ActivityStatus.published
    starts_from: datetime | None = None
    starts_until: datetime | None = None
    lat: float | None = None
    lng: float | None = None
    within_km: float = 50.0


async def list_activities(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    staff: StaffContext | None,
    filters: ActivityFilters,
    page: PageParams,
) -> Page[schemas.Activity]:
    """Activities of the region, soonest first, or nearest first when a point is given."""
    reach = None
    if filters.status not in PUBLIC_STATUSES:
        # Drafts: only those of units the staff member's roles reach.
        if staff is None:
            raise Forbidden("Only staff may list drafts")
        reach = [g.unit_path for g in staff.grants]
        if not reach:
            return Page(items=[], next_cursor=None)
    path = await subtree_path(session, region_id=region_id, unit_id=filters.unit_id)
    starts_from = filters.starts_from
    if starts_from is None and filters.status == ActivityStatus.published:
        # What volunteers browse is what is still ahead: a list whose cost does not grow
        # with the region's history.
        starts_from = clock.now()
    wanted = repository.ActivityQuery(
        region_id=region_id,
        status=filters.status,
        reach=reach,
        subtree=path,
        project_id=filters.project_id,
        category=filters.category,
        starts_from=starts_from,
        starts_until=filters.starts_until,
    )
    if filters.lat is not None and filters.lng is not None:
        return await _list_by_distance(session, wanted, filters, page, exact=staff is not None)
    rows = await repository.activities_by_start(
        session, wanted, after=decode_keyset(page.cursor), limit=page.limit
    )
    items = [activity_out(a, exact=staff is not None) for a in rows[: page.limit]]
    next_cursor = None
    if len(rows) > page.limit:
        last = rows[page.limit - 1]
        next_cursor = keyset_cursor(last.starts_at, last.id)
    return Page(items=items, next_cursor=next_cursor)


async def _list_by_distance(
    session: AsyncSession,
    wanted: repository.ActivityQuery,
    filters: ActivityFilters,
    page: PageParams,
    *,
    exact: bool,
) -> Page[schemas.Activity]:
    """Nearest first; the cursor is the last one's squared distance and id."""
    assert filters.lat is not None
    assert filters.lng is not None
    after = decode_cursor(page.cursor, arity=2)
    last = None
    if after is not None:
        last = parse_cursor_number(after[0]), parse_cursor_id(after[1])
    rows = await repository.activities_by_distance(
        session,
        wanted,
        lat=filters.lat,
        lng=filters.lng,
        within_km=filters.within_km,
        after=last,
        limit=page.limit,
    )
    chosen = rows[: page.limit]
    next_cursor = None
    if len(rows) > page.limit:
        next_cursor = encode_cursor(chosen[-1][1], chosen[-1][0].id)
    return Page(
        items=[
            activity_out(activity, exact=exact, distance_m=round(math.sqrt(d2) * 1000, 1))
            for activity, d2 in chosen
        ],
        next_cursor=next_cursor,
    )
