"""How every ledger transaction is checked and written.

A transaction has two or more postings that sum to zero, is written with core
inserts (the session does not track it), and a caller-chosen id makes a retry
return the first transaction instead of a second. The helpers here move the
balances of non-wallet accounts in the ledger's lock order and turn the ledger's
own constraints into refusals.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.core import clock
from app.ledger import repository as repo
from app.ledger.errors import (
    AccountNotFound,
    AlreadyReversed,
    InsufficientBalance,
    InvalidAmount,
    InvalidPostings,
    TransactionIdConflict,
)
from app.ledger.models import (
    LedgerTransaction,
    LotEntryKind,
    Posting,
    TxKind,
)

MAX_AMOUNT = 10**12


ADJUSTMENT_REFERENCE = "adjustment"


def require_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise InvalidAmount(f"Amounts are whole 良票 from 1 to {MAX_AMOUNT}; got {amount!r}")


async def insufficient(
    session: AsyncSession, account_id: uuid.UUID | None, amount: int, *, live: int | None = None
) -> InsufficientBalance:
    """The refusal of a debit of `amount`, with what the account has available; given
    `live`, what the wallet's unexpired lots cover, which is never more."""
    available = live
    if available is None:
        account = await repo.get_account(session, account_id) if account_id else None
        available = account.available if account else 0
    return InsufficientBalance(
        f"The account has {available} 良票 available; {amount} are needed",
        available=available,
        requested=amount,
    )


# Transactions


def transaction_rows(
    *,
    region_id: uuid.UUID,
    kind: TxKind,
    postings: Sequence[tuple[uuid.UUID, int]],
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None,
    transaction_id: uuid.UUID | None,
    reverses_id: uuid.UUID | None,
    refunds_id: uuid.UUID | None,
    now: datetime | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The rows of a new transaction and its postings, checked to balance."""
    postings = [(account_id, amt) for account_id, amt in postings if amt != 0]
    if len(postings) < 2 or sum(a for _, a in postings) != 0:
        raise InvalidPostings("A transaction has two or more postings that sum to zero")
    values: dict[str, Any] = {
        "id": transaction_id or uuid.uuid4(),
        "region_id": region_id,
        "kind": kind.value,
        "reference_type": reference_type,
        "reference_id": reference_id,
        "actor": actor,
        "metadata": dict(metadata or {}),
        "created_at": now or clock.now(),
        "reverses_id": reverses_id,
        "refunds_id": refunds_id,
    }
    rows = [
        {"region_id": region_id, "transaction_id": values["id"], "account_id": a, "amount": amt}
        for a, amt in postings
    ]
    return values, rows


def record(values: dict[str, Any], rows: list[dict[str, Any]], seq: int) -> LedgerTransaction:
    """The written transaction as a plain record: the session does not track it (the rows
    are written with core inserts, which cost the hot path less than a flush), and its
    postings are set as loaded, without the collection's change events."""
    fields = {k: v for k, v in values.items() if k != "metadata"}
    tx = LedgerTransaction(seq=seq, meta=values["metadata"], **fields)
    set_committed_value(tx, "postings", [Posting(**row) for row in rows])
    return tx


async def new_transaction(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    kind: TxKind,
    postings: Sequence[tuple[uuid.UUID, int]],
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None,
    transaction_id: uuid.UUID | None = None,
    reverses_id: uuid.UUID | None = None,
    refunds_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> LedgerTransaction:
    """Write a transaction and its postings."""
    values, rows = transaction_rows(
        region_id=region_id,
        kind=kind,
        postings=postings,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
        reverses_id=reverses_id,
        refunds_id=refunds_id,
        now=now,
    )
    try:
        seq = await repo.insert_transaction(session, values, rows)
    except IntegrityError as exc:
        raise refusal(exc) from exc
    return record(values, rows, seq)


def refusal(exc: IntegrityError) -> Exception:
    """The ledger's own constraints, as refusals; anything else stays an error."""
    message = str(exc.orig)
    if "reverses_id" in message:
        return AlreadyReversed()
    if "uq_ledger_transactions_id" in message or "ledger_transactions.id" in message:
        return TransactionIdConflict()
    # A posting to an account that does not exist (SQLite names no constraint).
    if "fk_ledger_postings_account_id" in message or "FOREIGN KEY" in message:
        return AccountNotFound("A posting names an account that does not exist")
    return exc


async def find_replay(
    session: AsyncSession,
    transaction_id: uuid.UUID | None,
    *,
    region_id: uuid.UUID,
    kind: TxKind,
    reference_type: str,
    reference_id: str,
    amount: int,
) -> LedgerTransaction | None:
    """The transaction a retry with the same caller-chosen id already posted."""
    if transaction_id is None:
        return None
    existing = await repo.transaction_by_id(session, transaction_id)
    if existing is None:
        return None
    moved = sum(p.amount for p in existing.postings if p.amount > 0)
    same = (
        existing.region_id == region_id
        and existing.kind == kind
        and existing.reference_type == reference_type
        and existing.reference_id == reference_id
        and moved == amount
    )
    if not same:
        raise TransactionIdConflict(f"Transaction {transaction_id} is a different transaction")
    return existing


async def lot_entries(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    transaction_id: uuid.UUID,
    kind: LotEntryKind,
    amounts: Sequence[tuple[uuid.UUID, int]],
) -> None:
    await repo.insert_lot_entries(
        session,
        [
            {
                "region_id": region_id,
                "lot_id": lot_id,
                "transaction_id": transaction_id,
                "kind": kind.value,
                "amount": amt,
            }
            for lot_id, amt in amounts
        ],
    )


async def debit_account_or_refuse(
    session: AsyncSession, *, region_id: uuid.UUID, account_id: uuid.UUID, amount: int
) -> None:
    if not await repo.debit(session, region_id=region_id, account_id=account_id, amount=amount):
        account = await repo.get_account(session, account_id, region_id=region_id)
        if account is None:
            raise AccountNotFound(f"No ledger account {account_id} in this region")
        raise await insufficient(session, account_id, amount)


async def move(
    session: AsyncSession, *, region_id: uuid.UUID, deltas: Sequence[tuple[uuid.UUID, int]]
) -> None:
    """Debit and credit non-wallet accounts in id order (the lock order); a debit that
    would overdraw a no-overdraft account is refused (InsufficientBalance)."""
    for account_id, delta in sorted(deltas):
        if delta < 0:
            await debit_account_or_refuse(
                session, region_id=region_id, account_id=account_id, amount=-delta
            )
        else:
            await repo.credit(session, region_id=region_id, account_id=account_id, amount=delta)


async def post_between(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    kind: TxKind,
    postings: Sequence[tuple[uuid.UUID, int]],
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None,
    transaction_id: uuid.UUID | None = None,
    reverses_id: uuid.UUID | None = None,
) -> LedgerTransaction:
    """Post between locked non-wallet accounts, refusing to overdraw a no-overdraft one."""
    await move(session, region_id=region_id, deltas=postings)
    tx = await new_transaction(
        session,
        region_id=region_id,
        kind=kind,
        postings=postings,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
        reverses_id=reverses_id,
    )
    return tx
