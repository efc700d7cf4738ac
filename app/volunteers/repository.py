"""SQL of `app.volunteers`' star levels: a region's thresholds, read and written."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.db import session_insert
from app.volunteers.models import StarThresholds


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
