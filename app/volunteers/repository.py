"""SQL of `app.volunteers`: volunteers' rows and their claims, a region's star thresholds."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.db import session_insert
from app.volunteers.models import StarThresholds, Volunteer


async def in_region(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    for_update: bool = False,
) -> Volunteer | None:
    statement = select(Volunteer).where(
        Volunteer.id == volunteer_id, Volunteer.region_id == region_id
    )
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(statement)


async def lock(session: AsyncSession, volunteer: Volunteer) -> None:
    """Takes the volunteer's row lock and reads it again: its claim and its verification
    change under this lock, so neither is decided on a copy the other has changed."""
    await session.refresh(volunteer, with_for_update=True)


async def star_thresholds(session: AsyncSession, *, region_id: uuid.UUID) -> list[int] | None:
    """The region's override of the star thresholds (hours), if it set one."""
    row = await session.get(StarThresholds, region_id)
    return list(row.hours) if row is not None else None


async def save_star_thresholds(
    session: AsyncSession, *, region_id: uuid.UUID, hours: list[int], staff_id: uuid.UUID
) -> None:
    values = {
        "region_id": region_id,
        "hours": hours,
        "updated_at": clock.now(),
        "updated_by_id": staff_id,
    }
    # An upsert: two first settings of a region may race, the later one wins.
    stmt = session_insert(session)(StarThresholds).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["region_id"],
            set_={key: stmt.excluded[key] for key in ("hours", "updated_at", "updated_by_id")},
        )
    )


async def verified_holder(
    session: AsyncSession, *, region_id: uuid.UUID, id_number: str, other_than: uuid.UUID
) -> uuid.UUID | None:
    """Another volunteer of the region verified with this number, whatever its type."""
    return await session.scalar(
        select(Volunteer.id).where(
            Volunteer.region_id == region_id,
            Volunteer.id_number == id_number,
            Volunteer.id_verified_at.is_not(None),
            Volunteer.id != other_than,
        )
    )
