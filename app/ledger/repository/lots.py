"""A wallet's lots: what a debit draws on, their changes, and those due to expire.

A wallet's lots are only ever changed by a holder of the wallet's row lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Row,
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import cast as cast_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from app.core.db import UTCDateTime, fetch_rows
from app.ledger.models import (
    LedgerTransaction,
    Lot,
    LotEntry,
    LotEntryKind,
)

_lots = cast(Table, Lot.__table__)


_lot_entries = cast(Table, LotEntry.__table__)


_insert_lot_entries = insert(_lot_entries)
_insert_lot = insert(_lots)


# Lots


# The lots a debit of :amount from the wallet draws on: its unexpired lots, oldest
# expiry first, each for what it has free (not reserved by holds), up to :amount in
# all; (lot_id, take) pairs. One rule for spends and holds, on both databases, and
# part of the spend's single write on PostgreSQL (`_WRITE_SPEND_PG`).
DRAWS_SQL = """
    SELECT lot_id,
        CASE WHEN free < :amount - before THEN free ELSE :amount - before END AS take
    FROM (
        SELECT id AS lot_id, remaining - reserved AS free,
            CAST(COALESCE(SUM(remaining - reserved) OVER (
                ORDER BY expires_at, created_at, id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS BIGINT) AS before
        FROM ledger_lots
        WHERE region_id = :region_id AND account_id = :wallet_id
            AND remaining > reserved AND expires_at > :now
    ) AS live
    WHERE before < :amount
"""
_draws = (
    text(DRAWS_SQL + " ORDER BY before")
    .bindparams(
        bindparam("region_id", type_=Uuid()),
        bindparam("wallet_id", type_=Uuid()),
        bindparam("now", type_=UTCDateTime()),
        bindparam("amount", type_=BigInteger()),
    )
    .columns(lot_id=Uuid(), take=BigInteger())
)


async def lot_draws(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    wallet_id: uuid.UUID,
    amount: int,
    now: datetime,
) -> list[tuple[uuid.UUID, int]]:
    """(lot, take) of a debit of `amount` (see `DRAWS_SQL`); they add up to less than
    `amount` when the unexpired lots cannot cover it. Only for the wallet's lock holder."""
    rows = await fetch_rows(
        session,
        _draws,
        {"region_id": region_id, "wallet_id": wallet_id, "amount": amount, "now": now},
    )
    return [(row[0], int(row[1])) for row in rows]


_change_lot = (
    update(_lots)
    .where(_lots.c.id == bindparam("lot_id"))
    .values(
        remaining=_lots.c.remaining + bindparam("d_remaining"),
        reserved=_lots.c.reserved + bindparam("d_reserved"),
    )
)


async def change_lots(session: AsyncSession, changes: dict[uuid.UUID, tuple[int, int]]) -> None:
    """Apply (Δremaining, Δreserved) to each lot, in one batch."""
    if not changes:
        return
    params = [
        {"lot_id": lot_id, "d_remaining": dr, "d_reserved": dv}
        for lot_id, (dr, dv) in sorted(changes.items())
    ]
    await session.execute(_change_lot, params)


async def lot_created_by(session: AsyncSession, transaction_id: uuid.UUID) -> Lot | None:
    return await session.scalar(
        select(Lot)
        .where(Lot.transaction_id == transaction_id)
        .execution_options(populate_existing=True)
    )


async def lots_of(
    session: AsyncSession, *, region_id: uuid.UUID, account_id: uuid.UUID, live_at: datetime
) -> Sequence[Lot]:
    """The wallet's lots that still hold 良票 and have not expired, oldest expiry first."""
    rows = await session.scalars(
        select(Lot)
        .where(
            Lot.region_id == region_id,
            Lot.account_id == account_id,
            Lot.remaining > 0,
            Lot.expires_at > live_at,
        )
        .order_by(Lot.expires_at, Lot.created_at, Lot.id)
        .execution_options(populate_existing=True)
    )
    return rows.all()


async def restorable_lots(
    session: AsyncSession, spend_id: uuid.UUID
) -> Sequence[Row[uuid.UUID, datetime, int]]:
    """(lot id, expiry, amount not yet given back) for each lot a spend drew on."""
    giving_back = select(LedgerTransaction.id).where(
        or_(
            LedgerTransaction.refunds_id == spend_id,
            LedgerTransaction.reverses_id == spend_id,
        )
    )
    drawn = func.sum(LotEntry.amount).filter(LotEntry.transaction_id == spend_id)
    given = func.coalesce(
        func.sum(LotEntry.amount).filter(LotEntry.transaction_id.in_(giving_back)), 0
    )
    result = await session.execute(
        # SUM of a bigint is numeric on PostgreSQL: back to an integer.
        select(Lot.id, Lot.expires_at, cast_(-drawn - given, BigInteger))
        .join(LotEntry, LotEntry.lot_id == Lot.id)
        .where(
            or_(
                and_(
                    LotEntry.transaction_id == spend_id,
                    LotEntry.kind == LotEntryKind.draw,
                ),
                and_(
                    LotEntry.transaction_id.in_(giving_back),
                    LotEntry.kind.in_((LotEntryKind.restore, LotEntryKind.restore_expired)),
                ),
            )
        )
        .group_by(Lot.id, Lot.expires_at)
        .order_by(Lot.expires_at.desc(), Lot.id.desc())
    )
    return result.all()


async def wallets_with_due_lots(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(Lot.account_id)
        .where(Lot.expires_at <= now, Lot.remaining > 0, Lot.reserved == 0)
        .group_by(Lot.account_id)
        .order_by(func.min(Lot.expires_at))
        .limit(limit)
    )
    return list(rows)


async def due_lots(session: AsyncSession, *, account_id: uuid.UUID, now: datetime) -> Sequence[Lot]:
    rows = await session.scalars(
        select(Lot)
        .where(
            Lot.account_id == account_id,
            Lot.expires_at <= now,
            Lot.remaining > 0,
            Lot.reserved == 0,
        )
        .order_by(Lot.expires_at, Lot.id)
        .execution_options(populate_existing=True)
    )
    return rows.all()


async def insert_lot_entries(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    if entries:
        await session.execute(_insert_lot_entries, entries)


async def insert_lot(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(_insert_lot, values)
