"""Holds, the lots they reserve, and their resolutions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    Row,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.models import (
    Hold,
    HoldLot,
    HoldResolution,
    Lot,
)


async def hold_by_id(session: AsyncSession, hold_id: uuid.UUID) -> Hold | None:
    return await session.get(Hold, hold_id)


async def resolution_of(session: AsyncSession, hold_id: uuid.UUID) -> HoldResolution | None:
    return await session.scalar(select(HoldResolution).where(HoldResolution.hold_id == hold_id))


async def reservations_of(
    session: AsyncSession, hold_id: uuid.UUID
) -> Sequence[Row[uuid.UUID, int]]:
    """(lot id, amount) the hold reserves, in the order its draws will take them."""
    result = await session.execute(
        select(HoldLot.lot_id, HoldLot.amount)
        .join(Lot, Lot.id == HoldLot.lot_id)
        .where(HoldLot.hold_id == hold_id)
        .order_by(Lot.expires_at, Lot.created_at, Lot.id)
    )
    return result.all()


async def insert_hold(
    session: AsyncSession, hold: Hold, reservations: Sequence[tuple[uuid.UUID, int]]
) -> None:
    """Write the hold and the (lot id, amount) it reserves of each lot."""
    session.add(hold)
    await session.flush()
    session.add_all(
        HoldLot(region_id=hold.region_id, hold_id=hold.id, lot_id=lot_id, amount=take)
        for lot_id, take in reservations
    )
    await session.flush()


async def insert_resolution(session: AsyncSession, resolution: HoldResolution) -> None:
    session.add(resolution)
    await session.flush()


async def due_holds(session: AsyncSession, *, now: datetime, limit: int) -> list[Hold]:
    rows = await session.scalars(
        select(Hold)
        .outerjoin(HoldResolution, HoldResolution.hold_id == Hold.id)
        .where(Hold.expires_at <= now, HoldResolution.id.is_(None))
        .order_by(Hold.expires_at, Hold.id)
        .limit(limit)
    )
    return list(rows)
