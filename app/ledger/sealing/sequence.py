"""What a block attests about the whole ledger's sequence: how far it is settled, and the
numbers in it no transaction holds (rolled back), so that a deleted one shows."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.models import LedgerTransaction
from app.ledger.sealing.models import Block

# A database transaction never runs this long: a sequence number below one this old is
# committed, or was rolled back.
SETTLE_AFTER = timedelta(minutes=10)


# Each run of consecutive missing sequence numbers in (after, through]: the previous
# number present (or `after`) is `prev`; the last part picks up a run at the end.
_UNUSED_RANGES = text(
    """
    SELECT first, last FROM (
        SELECT prev + 1 AS first, seq - 1 AS last FROM (
            SELECT seq, LAG(seq, 1, :after) OVER (ORDER BY seq) AS prev
            FROM ledger_transactions WHERE seq > :after AND seq <= :through
        ) s
        WHERE seq - prev > 1
        UNION ALL
        SELECT COALESCE(MAX(seq), :after) + 1 AS first, :through AS last
        FROM ledger_transactions WHERE seq > :after AND seq <= :through
        HAVING COALESCE(MAX(seq), :after) < :through
    ) gaps
    ORDER BY first
    """
)


async def unused_ranges(session: AsyncSession, *, after: int, through: int) -> list[list[int]]:
    """The sequence numbers in (after, through] that no transaction holds, as ranges."""
    rows = await session.execute(_UNUSED_RANGES, {"after": after, "through": through})
    return [[int(first), int(last)] for first, last in rows]


async def attest_sequence(session: AsyncSession, now: datetime) -> tuple[int, list[list[int]]]:
    """How far the ledger's sequence is settled, and its unused numbers since the last
    attestation (any region's block).

    A number is settled once a transaction with a higher one is older than
    `SETTLE_AFTER`: the transaction that drew it would have committed by then, so
    if it is missing now, it was rolled back. A transaction deleted later leaves a
    missing number the blocks do not account for."""
    attested = int(await session.scalar(select(func.max(Block.seq_through))) or 0)
    settled = await session.scalar(
        select(func.max(LedgerTransaction.seq)).where(
            LedgerTransaction.seq > attested,
            LedgerTransaction.created_at < now - SETTLE_AFTER,
        )
    )
    if settled is None:
        return attested, []
    return int(settled), await unused_ranges(session, after=attested, through=int(settled))
