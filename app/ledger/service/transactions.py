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
from dataclasses import dataclass
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
from app.ledger.models import AccountKind, LedgerTransaction, LotEntryKind, Posting, TxKind

MAX_AMOUNT = 10**12
# The reference type of manual adjustments, which only another adjustment corrects.
ADJUSTMENT_REFERENCE = "adjustment"


@dataclass(frozen=True, slots=True)
class Entry:
    """What a new transaction says of itself, everything but its postings: in which
    region, what kind, what caused it, who asked, and how it links to others.

    A use case builds it once from what its caller asked and hands it down to the
    rows it writes, so that a cause, an actor or a caller-chosen id cannot be dropped
    or swapped on the way. `transaction_id`, chosen by the caller, makes a retry
    return the first transaction (`find_replay`); `reverses_id` or `refunds_id` (at
    most one) names the transaction this one corrects.
    """

    region_id: uuid.UUID
    kind: TxKind
    reference_type: str
    reference_id: str
    actor: str
    metadata: dict[str, Any] | None = None
    transaction_id: uuid.UUID | None = None
    reverses_id: uuid.UUID | None = None
    refunds_id: uuid.UUID | None = None


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


async def wallet_insufficient(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID, amount: int
) -> InsufficientBalance:
    """The refusal of a debit or hold of `amount` that the wallet's conditional update
    did not take (no wallet, or too little available)."""
    wallet = await repo.find_account(
        session, region_id=region_id, kind=AccountKind.wallet, owner_id=volunteer_id
    )
    return await insufficient(session, wallet.id if wallet else None, amount)


def transaction_rows(
    entry: Entry, postings: Sequence[tuple[uuid.UUID, int]], *, now: datetime | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The rows of a new transaction and its postings, checked to balance."""
    postings = [(account_id, amt) for account_id, amt in postings if amt != 0]
    if len(postings) < 2 or sum(a for _, a in postings) != 0:
        raise InvalidPostings("A transaction has two or more postings that sum to zero")
    values: dict[str, Any] = {
        "id": entry.transaction_id or uuid.uuid4(),
        "region_id": entry.region_id,
        "kind": entry.kind.value,
        "reference_type": entry.reference_type,
        "reference_id": entry.reference_id,
        "actor": entry.actor,
        "metadata": dict(entry.metadata or {}),
        "created_at": now or clock.now(),
        "reverses_id": entry.reverses_id,
        "refunds_id": entry.refunds_id,
    }
    rows = [
        {
            "region_id": entry.region_id,
            "transaction_id": values["id"],
            "account_id": a,
            "amount": amt,
        }
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
    entry: Entry,
    postings: Sequence[tuple[uuid.UUID, int]],
    *,
    now: datetime | None = None,
) -> LedgerTransaction:
    """Write a transaction and its postings."""
    values, rows = transaction_rows(entry, postings, now=now)
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
    session: AsyncSession, entry: Entry, *, amount: int
) -> LedgerTransaction | None:
    """The transaction a retry with the same caller-chosen id already posted."""
    if entry.transaction_id is None:
        return None
    existing = await repo.transaction_by_id(session, entry.transaction_id)
    if existing is None:
        return None
    moved = sum(p.amount for p in existing.postings if p.amount > 0)
    same = (
        existing.region_id == entry.region_id
        and existing.kind == entry.kind
        and existing.reference_type == entry.reference_type
        and existing.reference_id == entry.reference_id
        and moved == amount
    )
    if not same:
        raise TransactionIdConflict(
            f"Transaction {entry.transaction_id} is a different transaction"
        )
    return existing


async def lot_entries(
    session: AsyncSession,
    tx: LedgerTransaction,
    kind: LotEntryKind,
    amounts: Sequence[tuple[uuid.UUID, int]],
) -> None:
    """Record how the transaction changed each lot (`amounts`: lot id, change)."""
    await repo.insert_lot_entries(
        session,
        [
            {
                "region_id": tx.region_id,
                "lot_id": lot_id,
                "transaction_id": tx.id,
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
    session: AsyncSession, entry: Entry, postings: Sequence[tuple[uuid.UUID, int]]
) -> LedgerTransaction:
    """Post between locked non-wallet accounts, refusing to overdraw a no-overdraft one."""
    await move(session, region_id=entry.region_id, deltas=postings)
    return await new_transaction(session, entry, postings)
