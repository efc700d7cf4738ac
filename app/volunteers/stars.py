"""Star levels: stars 1 to 5 from cumulative approved hours against thresholds (default
100/300/600/1000/1500 h) that a region's center admin may override.

The hours are read from `app.activities.hours`, never the other way round: a feature
that needs a volunteer's stars (the redemption of an offer with a minimum level) asks
here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours import service as hours_service
from app.identity.principals import StaffContext
from app.orgs.authz import require_center_admin_of
from app.orgs.errors import RegionNotFound
from app.volunteers import repository
from app.volunteers.models import DEFAULT_STAR_HOURS
from app.volunteers.schemas import StarLevel, StarThresholdsOut


def level_for(minutes: int, thresholds_hours: Sequence[int]) -> int:
    """Stars earned by `minutes` of approved service: each threshold reached is one star."""
    return sum(1 for hours in thresholds_hours if minutes >= hours * 60)


async def thresholds_for(session: AsyncSession, *, region_id: uuid.UUID) -> list[int]:
    override = await repository.star_thresholds(session, region_id=region_id)
    return override if override is not None else list(DEFAULT_STAR_HOURS)


async def star_level(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> int:
    """The volunteer's star level, 0 to 5, from cumulative approved hours."""
    minutes = await hours_service.approved_minutes(
        session, region_id=region_id, volunteer_id=volunteer_id
    )
    return level_for(minutes, await thresholds_for(session, region_id=region_id))


def star_summary(minutes: int, thresholds_hours: Sequence[int]) -> StarLevel:
    level = level_for(minutes, thresholds_hours)
    if level >= len(thresholds_hours):
        return StarLevel(
            level=level,
            approved_minutes=minutes,
            thresholds_hours=list(thresholds_hours),
            next_level=None,
            minutes_to_next_level=None,
        )
    return StarLevel(
        level=level,
        approved_minutes=minutes,
        thresholds_hours=list(thresholds_hours),
        next_level=level + 1,
        minutes_to_next_level=thresholds_hours[level] * 60 - minutes,
    )


async def get_thresholds(
    session: AsyncSession, *, region_id: uuid.UUID, caller_region_id: uuid.UUID | None
) -> StarThresholdsOut:
    """Anyone signed in to the region may read its thresholds; other regions do not exist."""
    if caller_region_id != region_id:
        raise RegionNotFound()
    override = await repository.star_thresholds(session, region_id=region_id)
    return StarThresholdsOut(
        region_id=region_id,
        hours=override if override is not None else list(DEFAULT_STAR_HOURS),
        is_default=override is None,
    )


async def set_thresholds(
    session: AsyncSession, *, staff: StaffContext, region_id: uuid.UUID, hours: list[int]
) -> StarThresholdsOut:
    """A center admin of the region sets its thresholds; other regions do not exist."""
    require_center_admin_of(staff, region_id)
    await repository.save_star_thresholds(
        session, region_id=region_id, hours=hours, staff_id=staff.id
    )
    return StarThresholdsOut(region_id=region_id, hours=hours, is_default=False)
