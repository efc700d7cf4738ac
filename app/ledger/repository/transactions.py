"""Transactions and their postings: the inserts, the spend's one-statement write, and lookups."""

from __future__ import annotations

import json
import uuid
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Table,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.db import fetch_rows
from app.ledger.models import (
    LedgerTransaction,
    LotEntryKind,
    Posting,
)
from app.ledger.repository.accounts import credit
from app.ledger.repository.lots import DRAWS_SQL, change_lots, insert_lot_entries, lot_draws

_transactions = cast(Table, LedgerTransaction.__table__)
_postings = cast(Table, Posting.__table__)


# The spend path's statements are built once: building them per call costs more
# than running them.
_insert_transaction = insert(_transactions).returning(_transactions.c.seq)
_insert_postings = insert(_postings)


async def insert_transaction(
    session: AsyncSession, values: dict[str, Any], postings: list[dict[str, Any]]
) -> int:
    """Insert a transaction and its postings; returns its `seq`."""
    seq = await session.scalar(_insert_transaction, values)
    await session.execute(_insert_postings, postings)
    return int(seq)


# A spend's whole write in one round trip on PostgreSQL, once the wallet's debit holds
# its row lock: the lot draws (`DRAWS_SQL`, read in this statement's snapshot, which
# no other writer of the wallet's lots can change while the lock is held), and, when
# they cover the amount, the transaction, its postings, the lot entries and lot
# changes, and the credit (whose account row lock it takes last, when everything else
# is written). Returns the seq (or NULL: nothing written), whether the account to
# credit was there to take it (in the region, not a wallet), and what the lots cover.
_WRITE_SPEND_PG = text(
    f"""
    WITH draws AS ({DRAWS_SQL}
    ), covered AS (
        SELECT COALESCE(SUM(take), 0) AS live FROM draws
    ), tx AS (
        INSERT INTO ledger_transactions
            (id, region_id, kind, reference_type, reference_id, actor, metadata, created_at)
        SELECT CAST(:id AS uuid), CAST(:region_id AS uuid), :kind, :reference_type,
                :reference_id, :actor, CAST(:metadata AS json), :created_at
        FROM covered WHERE live = :amount
        RETURNING seq
    ), postings AS (
        INSERT INTO ledger_postings (region_id, transaction_id, account_id, amount)
        SELECT CAST(:region_id AS uuid), CAST(:id AS uuid), p.account_id, p.amount
        FROM unnest(CAST(:posting_accounts AS uuid[]), CAST(:posting_amounts AS bigint[]))
            AS p(account_id, amount), covered
        WHERE covered.live = :amount
    ), entries AS (
        INSERT INTO ledger_lot_entries (region_id, lot_id, transaction_id, kind, amount)
        SELECT CAST(:region_id AS uuid), d.lot_id, CAST(:id AS uuid), 'draw', -d.take
        FROM draws AS d, covered
        WHERE covered.live = :amount
    ), drawn AS (
        UPDATE ledger_lots SET remaining = ledger_lots.remaining - d.take
        FROM draws AS d, covered
        WHERE ledger_lots.id = d.lot_id AND covered.live = :amount
    ), credited AS (
        UPDATE ledger_accounts SET posted = posted + :amount
        WHERE id = CAST(:to_account_id AS uuid) AND region_id = CAST(:region_id AS uuid)
            AND kind <> 'wallet' AND (SELECT live FROM covered) = :amount
        RETURNING id
    )
    SELECT (SELECT seq FROM tx), (SELECT count(*) FROM credited), (SELECT live FROM covered)
    """  # noqa: S608 - built from module constants only
)


class SpendWrite(NamedTuple):
    seq: int | None  # None: nothing was written, as the lots cover only `live`
    credited: bool  # the account to credit was there to take it
    live: int  # what the wallet's unexpired lots cover of the amount


async def write_spend(
    session: AsyncSession,
    *,
    transaction: dict[str, Any],
    postings: list[dict[str, Any]],
    wallet_id: uuid.UUID,
    to_account_id: uuid.UUID,
    amount: int,
) -> SpendWrite:
    """Write a spend of `amount` from the wallet, whose debit this transaction holds;
    nothing when the wallet's unexpired lots cannot cover the amount. One round trip
    on PostgreSQL (`_WRITE_SPEND_PG`); SQLite takes one statement per part."""
    region_id, now = transaction["region_id"], transaction["created_at"]
    if session.get_bind().dialect.name == "postgresql":
        ((seq, credited, live),) = await fetch_rows(
            session,
            _WRITE_SPEND_PG,
            {
                **transaction,
                "metadata": json.dumps(transaction["metadata"]),
                "posting_accounts": [p["account_id"] for p in postings],
                "posting_amounts": [p["amount"] for p in postings],
                "wallet_id": wallet_id,
                "now": now,
                "to_account_id": to_account_id,
                "amount": amount,
            },
        )
        return SpendWrite(None if seq is None else int(seq), credited == 1, int(live))
    draws = await lot_draws(
        session, region_id=region_id, wallet_id=wallet_id, amount=amount, now=now
    )
    live = sum(take for _, take in draws)
    if live < amount:
        return SpendWrite(None, False, live)
    seq = await insert_transaction(session, transaction, postings)
    await insert_lot_entries(
        session,
        [
            {
                "region_id": region_id,
                "lot_id": lot_id,
                "transaction_id": transaction["id"],
                "kind": LotEntryKind.draw.value,
                "amount": -take,
            }
            for lot_id, take in draws
        ],
    )
    await change_lots(session, {lot_id: (-take, 0) for lot_id, take in draws})
    credited = await credit(
        session,
        region_id=region_id,
        account_id=to_account_id,
        amount=amount,
        wallet_allowed=False,
    )
    return SpendWrite(seq, credited, live)


async def transaction_by_id(
    session: AsyncSession, transaction_id: uuid.UUID, *, region_id: uuid.UUID | None = None
) -> LedgerTransaction | None:
    query = (
        select(LedgerTransaction)
        .where(LedgerTransaction.id == transaction_id)
        .options(selectinload(LedgerTransaction.postings))
    )
    if region_id is not None:
        query = query.where(LedgerTransaction.region_id == region_id)
    return await session.scalar(query)


async def reversal_of(session: AsyncSession, transaction_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(
        select(LedgerTransaction.id).where(LedgerTransaction.reverses_id == transaction_id)
    )
