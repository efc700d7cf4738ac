"""Queries of `app.integrations`: the outbox as staff read and retry it. Every one is
filtered by region."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Keyset, before_keyset
from app.integrations.models import OutboxEvent, OutboxRetry


async def dead_letters_page(
    session: AsyncSession, *, region_id: uuid.UUID, after: Keyset | None, limit: int
) -> Sequence[OutboxEvent]:
    """The region's dead letters, the latest to die first; one more than `limit`."""
    stmt = select(OutboxEvent).where(
        OutboxEvent.region_id == region_id, OutboxEvent.dead_at.is_not(None)
    )
    if after is not None:
        stmt = stmt.where(before_keyset(OutboxEvent.dead_at, OutboxEvent.id, after))
    stmt = stmt.order_by(OutboxEvent.dead_at.desc(), OutboxEvent.id.desc()).limit(limit + 1)
    return (await session.scalars(stmt)).all()


async def event_for_update(
    session: AsyncSession, *, region_id: uuid.UUID, event_id: uuid.UUID
) -> OutboxEvent | None:
    """The event, row-locked: of two retries at once, the second sees the first's."""
    return await session.scalar(
        select(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.region_id == region_id)
        .with_for_update()
    )


async def retries_of(
    session: AsyncSession, *, region_id: uuid.UUID, event_ids: Sequence[uuid.UUID]
) -> Sequence[OutboxRetry]:
    if not event_ids:
        return []
    stmt = (
        select(OutboxRetry)
        .where(OutboxRetry.region_id == region_id, OutboxRetry.event_id.in_(event_ids))
        .order_by(OutboxRetry.retried_at, OutboxRetry.id)
    )
    return (await session.scalars(stmt)).all()
