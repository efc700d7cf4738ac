"""SQL of a merchant's statements and the region's monthly settlement: the day's
redemptions, voids, refunds and settlements, the list of attempts, and the sums by
merchant that a settlement run moves."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, keyset_window
from app.merchants.models import (
    MerchantSettlement,
    Redemption,
    RedemptionRefund,
    RedemptionStatus,
)

_SUCCEEDED = (RedemptionStatus.succeeded, RedemptionStatus.voided)


# A merchant's day


async def redeemed_between(
    session: AsyncSession, *, merchant_id: uuid.UUID, start: datetime, end: datetime
) -> list[Redemption]:
    """The merchant's redemptions that succeeded in [start, end), voided since or not."""
    rows = await session.scalars(
        select(Redemption).where(
            Redemption.merchant_id == merchant_id,
            Redemption.status.in_(_SUCCEEDED),
            Redemption.created_at >= start,
            Redemption.created_at < end,
        )
    )
    return list(rows)


async def voided_between(
    session: AsyncSession, *, merchant_id: uuid.UUID, start: datetime, end: datetime
) -> list[Redemption]:
    rows = await session.scalars(
        select(Redemption).where(
            Redemption.merchant_id == merchant_id,
            Redemption.voided_at >= start,
            Redemption.voided_at < end,
        )
    )
    return list(rows)


async def refunded_between(
    session: AsyncSession, *, merchant_id: uuid.UUID, start: datetime, end: datetime
) -> list[Row[RedemptionRefund, Redemption]]:
    """The merchant's refunds in [start, end) with the redemption each gave back."""
    rows = await session.execute(
        select(RedemptionRefund, Redemption)
        .join(Redemption, Redemption.id == RedemptionRefund.redemption_id)
        .where(
            RedemptionRefund.merchant_id == merchant_id,
            RedemptionRefund.created_at >= start,
            RedemptionRefund.created_at < end,
        )
    )
    return list(rows)


async def settled_between(
    session: AsyncSession, *, merchant_id: uuid.UUID, start: datetime, end: datetime
) -> list[MerchantSettlement]:
    rows = await session.scalars(
        select(MerchantSettlement).where(
            MerchantSettlement.merchant_id == merchant_id,
            MerchantSettlement.created_at >= start,
            MerchantSettlement.created_at < end,
        )
    )
    return list(rows)


async def settlement_of(
    session: AsyncSession, *, merchant_id: uuid.UUID, period: str
) -> MerchantSettlement | None:
    return await session.scalar(
        select(MerchantSettlement).where(
            MerchantSettlement.merchant_id == merchant_id,
            MerchantSettlement.period == period,
        )
    )


async def attempts_of(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    between: tuple[datetime, datetime] | None,
    terminal_id: uuid.UUID | None,
    status: RedemptionStatus | None,
    page: PageParams,
) -> list[Redemption]:
    """A page of the merchant's finished attempts, newest first."""
    query = select(Redemption).where(
        Redemption.merchant_id == merchant_id,
        Redemption.status != RedemptionStatus.pending,
    )
    if between is not None:
        start, end = between
        query = query.where(Redemption.created_at >= start, Redemption.created_at < end)
    if terminal_id is not None:
        query = query.where(Redemption.terminal_id == terminal_id)
    if status is not None:
        query = query.where(Redemption.status == status)
    window = keyset_window(
        query,
        page,
        time_column=Redemption.created_at,
        id_column=Redemption.id,
        newest_first=True,
    )
    return list(await session.scalars(window))


# The region's settlement


async def lock_settlement_run(session: AsyncSession, *, region_id: uuid.UUID, period: str) -> None:
    """One run per region and month at a time; a second waits and then finds the rows.
    (SQLite's writers are serialized already.)"""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(
            hashlib.sha256(f"settle:{region_id}:{period}".encode()).digest()[:8], "big", signed=True
        )
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def _sums_by_merchant(session: AsyncSession, query: Any) -> dict[uuid.UUID, int]:
    return {merchant_id: int(amount or 0) for merchant_id, amount in await session.execute(query)}


async def redeemed_by_merchant(
    session: AsyncSession, *, region_id: uuid.UUID, before: datetime
) -> dict[uuid.UUID, int]:
    """What each merchant of the region redeemed before `before`, voided since or not."""
    return await _sums_by_merchant(
        session,
        select(Redemption.merchant_id, func.sum(Redemption.amount))
        .where(
            Redemption.region_id == region_id,
            Redemption.status.in_(_SUCCEEDED),
            Redemption.created_at < before,
        )
        .group_by(Redemption.merchant_id),
    )


async def voided_by_merchant(
    session: AsyncSession, *, region_id: uuid.UUID, before: datetime
) -> dict[uuid.UUID, int]:
    return await _sums_by_merchant(
        session,
        select(Redemption.merchant_id, func.sum(Redemption.amount))
        .where(Redemption.region_id == region_id, Redemption.voided_at < before)
        .group_by(Redemption.merchant_id),
    )


async def refunded_by_merchant(
    session: AsyncSession, *, region_id: uuid.UUID, before: datetime
) -> dict[uuid.UUID, int]:
    return await _sums_by_merchant(
        session,
        select(RedemptionRefund.merchant_id, func.sum(RedemptionRefund.amount))
        .where(RedemptionRefund.region_id == region_id, RedemptionRefund.created_at < before)
        .group_by(RedemptionRefund.merchant_id),
    )


async def settled_by_merchant(
    session: AsyncSession, *, region_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    return await _sums_by_merchant(
        session,
        select(MerchantSettlement.merchant_id, func.sum(MerchantSettlement.amount))
        .where(MerchantSettlement.region_id == region_id)
        .group_by(MerchantSettlement.merchant_id),
    )


async def settlements_of_period(
    session: AsyncSession, *, region_id: uuid.UUID, period: str
) -> dict[uuid.UUID, MerchantSettlement]:
    """The region's settlements of `period`, by merchant."""
    rows = await session.scalars(
        select(MerchantSettlement).where(
            MerchantSettlement.region_id == region_id, MerchantSettlement.period == period
        )
    )
    return {row.merchant_id: row for row in rows}
