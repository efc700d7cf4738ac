"""The reads behind the API: a wallet's history and an account's statement."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import (
    Row,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.models import (
    Account,
    AccountKind,
    LedgerTransaction,
    Posting,
)


async def wallet_history(
    session: AsyncSession, *, account_id: uuid.UUID, before_posting_id: int | None, limit: int
) -> Sequence[Row[Posting, LedgerTransaction]]:
    query = (
        select(Posting, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(Posting.account_id == account_id)
        .order_by(Posting.id.desc())
        .limit(limit)
    )
    if before_posting_id is not None:
        query = query.where(Posting.id < before_posting_id)
    return (await session.execute(query)).all()


async def postings_of(
    session: AsyncSession, transaction_ids: Iterable[uuid.UUID]
) -> Sequence[Row[uuid.UUID, uuid.UUID, int, AccountKind, uuid.UUID]]:
    """(transaction id, account id, amount, account kind, owner id) of each posting."""
    result = await session.execute(
        select(
            Posting.transaction_id,
            Posting.account_id,
            Posting.amount,
            Account.kind,
            Account.owner_id,
        )
        .join(Account, Account.id == Posting.account_id)
        .where(Posting.transaction_id.in_(list(transaction_ids)))
        .order_by(Posting.id)
    )
    return result.all()


async def balance_before(session: AsyncSession, *, account_id: uuid.UUID, since: datetime) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(Posting.amount), 0))
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(Posting.account_id == account_id, LedgerTransaction.created_at < since)
    )
    return int(total or 0)


async def statement_rows(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> Sequence[Row[Posting, LedgerTransaction]]:
    query = (
        select(Posting, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(Posting.account_id == account_id)
        .order_by(LedgerTransaction.seq)
        .limit(limit)
    )
    if since is not None:
        query = query.where(LedgerTransaction.created_at >= since)
    if until is not None:
        query = query.where(LedgerTransaction.created_at < until)
    return (await session.execute(query)).all()
