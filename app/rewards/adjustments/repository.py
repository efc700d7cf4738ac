"""Queries of manual adjustments: the requests, their tallies, and their share of the budget."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import session_insert
from app.core.pagination import Keyset, before_keyset
from app.rewards.adjustments.models import (
    Adjustment,
    AdjustmentStatus,
    AdjustmentTally,
)


async def get(
    session: AsyncSession, *, region_id: uuid.UUID, adjustment_id: uuid.UUID, lock: bool = False
) -> Adjustment | None:
    stmt = select(Adjustment).where(
        Adjustment.id == adjustment_id, Adjustment.region_id == region_id
    )
    if lock:
        # Two approvals of one adjustment take turns: the second finds it decided.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(stmt)


async def newest_first(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    status: AdjustmentStatus | None,
    after: Keyset | None,
    limit: int,
) -> Sequence[Adjustment]:
    stmt = select(Adjustment).where(Adjustment.region_id == region_id)
    if status is not None:
        stmt = stmt.where(Adjustment.status == status)
    if after is not None:
        stmt = stmt.where(before_keyset(Adjustment.requested_at, Adjustment.id, after))
    stmt = stmt.order_by(Adjustment.requested_at.desc(), Adjustment.id.desc()).limit(limit)
    return (await session.scalars(stmt)).all()


async def lock_tallies(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    staff_id: uuid.UUID,
    account_ids: Sequence[uuid.UUID],
    day: date,
) -> dict[uuid.UUID, int]:
    """The admin's tally of each account on `day`, each row created if absent and locked
    until the end of the transaction; in account order, so that two requests of one
    admin lock them in the same order."""
    totals: dict[uuid.UUID, int] = {}
    for account_id in sorted(account_ids):
        stmt = session_insert(session)(AdjustmentTally).values(
            staff_id=staff_id, account_id=account_id, day=day, region_id=region_id, total=0
        )
        # A no-op update rather than DO NOTHING: it locks the row, and returns the total
        # as committed by whoever held that lock before.
        stmt = stmt.on_conflict_do_update(
            index_elements=["staff_id", "account_id", "day"],
            set_={"total": AdjustmentTally.__table__.c.total},
        ).returning(AdjustmentTally.__table__.c.total)
        totals[account_id] = int((await session.execute(stmt)).scalar_one())
    return totals


async def add_to_tallies(
    session: AsyncSession,
    *,
    staff_id: uuid.UUID,
    account_ids: Sequence[uuid.UUID],
    day: date,
    amount: int,
) -> None:
    await session.execute(
        update(AdjustmentTally)
        .where(
            AdjustmentTally.staff_id == staff_id,
            AdjustmentTally.account_id.in_(account_ids),
            AdjustmentTally.day == day,
        )
        .values(total=AdjustmentTally.total + amount)
        .execution_options(synchronize_session=False)
    )
