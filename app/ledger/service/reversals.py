"""Refunds and reversals: undoing a transaction, wholly or in part, at most once.

A spend's refund or reversal gives back to the lots it drew on; a credit to a
wallet is taken back from the lot it created; a transaction between other accounts
is negated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.ledger import repository as repo
from app.ledger.errors import (
    AlreadyReversed,
    NotRefundable,
    NotReversible,
    RefundExceedsRemainder,
    ReversalExceedsRemainder,
    TransactionNotFound,
)
from app.ledger.models import (
    Account,
    AccountKind,
    LedgerTransaction,
    LotEntryKind,
    TxKind,
)
from app.ledger.service.accounts import system_account
from app.ledger.service.transactions import (
    ADJUSTMENT_REFERENCE,
    Entry,
    find_replay,
    lot_entries,
    move,
    new_transaction,
    post_between,
    require_amount,
)


@dataclass(frozen=True)
class _Shape:
    """How a transaction moved 良票, which decides how it can be undone."""

    wallet: Account | None
    other: Account | None
    amount: int
    accounts: dict[uuid.UUID, Account]


async def _shape(session: AsyncSession, tx: LedgerTransaction) -> _Shape:
    accounts = await repo.accounts_by_id(session, {p.account_id for p in tx.postings})
    wallets = [p for p in tx.postings if accounts[p.account_id].kind == AccountKind.wallet]
    amount = sum(p.amount for p in tx.postings if p.amount > 0)
    if not wallets:
        return _Shape(wallet=None, other=None, amount=amount, accounts=accounts)
    if len(tx.postings) != 2 or len(wallets) != 1:
        return _Shape(wallet=None, other=None, amount=-1, accounts=accounts)
    (other,) = [p for p in tx.postings if p is not wallets[0]]
    return _Shape(
        wallet=accounts[wallets[0].account_id],
        other=accounts[other.account_id],
        amount=amount,
        accounts=accounts,
    )


async def _give_back(
    session: AsyncSession,
    entry: Entry,
    *,
    spend: LedgerTransaction,
    shape: _Shape,
    amount: int | None,
) -> LedgerTransaction:
    """Return `amount` of a spend to the lots it drew on; an expired lot's share goes to
    the region's expired account. `entry` refunds or reverses the spend. The caller
    holds the wallet's lock."""
    assert shape.wallet is not None
    assert shape.other is not None
    region_id = spend.region_id
    now = clock.now()
    lots = await repo.restorable_lots(session, spend.id)
    remainder = sum(left for _, _, left in lots)
    if amount is None:
        amount = remainder
    if amount > remainder or amount == 0:
        reversal = entry.reverses_id is not None
        error = ReversalExceedsRemainder if reversal else RefundExceedsRemainder
        raise error(
            f"{remainder} 良票 of this spend remain to give back; {amount} asked",
            remaining=remainder,
            requested=amount,
        )
    # The latest-expiring lots first: the volunteer gets back the longest-lived 良票.
    restores: list[tuple[uuid.UUID, int]] = []
    expired_shares: list[tuple[uuid.UUID, int]] = []
    left = amount
    for lot_id, expires_at, restorable in lots:
        if left == 0:
            break
        share = min(left, restorable)
        if share <= 0:
            continue
        (expired_shares if expires_at <= now else restores).append((lot_id, share))
        left -= share
    live = sum(s for _, s in restores)
    expired = amount - live
    if live:
        await repo.change_wallet(session, account_id=shape.wallet.id, posted=live)
        await repo.change_lots(session, {lot_id: (s, 0) for lot_id, s in restores})
    others: list[tuple[uuid.UUID, int]] = [(shape.other.id, -amount)]
    if expired:
        expired_account = await system_account(
            session, region_id=region_id, kind=AccountKind.expired
        )
        others.append((expired_account.id, expired))
    await move(session, region_id=region_id, deltas=others)  # after the wallet
    tx = await new_transaction(session, entry, [*others, (shape.wallet.id, live)], now=now)
    await lot_entries(session, tx, LotEntryKind.restore, restores)
    await lot_entries(session, tx, LotEntryKind.restore_expired, expired_shares)
    return tx


def _is_spend(tx: LedgerTransaction, shape: _Shape) -> bool:
    if shape.wallet is None or tx.refunds_id is not None or tx.reverses_id is not None:
        return False
    return any(p.account_id == shape.wallet.id and p.amount < 0 for p in tx.postings)


async def refund_spend(
    session: AsyncSession,
    *,
    original_transaction_id: uuid.UUID,
    amount: int,
    kind: TxKind,
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None = None,
    transaction_id: uuid.UUID | None = None,
) -> LedgerTransaction:
    """Give `amount` of a spend back to the wallet, restoring the lots it drew on.

    Refuses more than what remains unrefunded (`RefundExceedsRemainder`); the
    account that received the spend must still hold the amount.
    """
    require_amount(amount)
    spend = await repo.transaction_by_id(session, original_transaction_id)
    if spend is None:
        raise TransactionNotFound()
    entry = Entry(
        region_id=spend.region_id,
        kind=kind,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
        refunds_id=spend.id,
    )
    replayed = await find_replay(session, entry, amount=amount)
    if replayed is not None:
        return replayed
    shape = await _shape(session, spend)
    if not _is_spend(spend, shape):
        raise NotRefundable()
    assert shape.wallet is not None
    await repo.lock_accounts(session, [shape.wallet.id])
    return await _give_back(session, entry, spend=spend, shape=shape, amount=amount)


async def reverse_transaction(
    session: AsyncSession,
    *,
    transaction_id: uuid.UUID,
    actor: str,
    amount: int | None = None,
    reference_type: str = "ledger_transaction",
    reference_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    region_id: uuid.UUID | None = None,
) -> LedgerTransaction:
    """Undo a transaction, wholly or up to what remains of it, at most once.

    A spend's reversal gives back to its lots like a refund; a credit to a wallet is
    taken back from the lot it created (what is left of it); a transaction between
    other accounts is negated (partly only when it has two postings). Refunds,
    reversals and expiries are not reversible; nor are manual adjustments, or what
    went into the issuance account: 良票 leave it only by reward issuance and
    adjustments, which the region's budget counts.
    """
    if amount is not None:
        require_amount(amount)
    original = await repo.transaction_by_id(session, transaction_id, region_id=region_id)
    if original is None:
        raise TransactionNotFound()
    if (
        original.kind in (TxKind.reverse, TxKind.expire)
        or original.reverses_id is not None
        or original.refunds_id is not None
    ):
        raise NotReversible(f"A {original.kind} transaction cannot be reversed")
    if original.reference_type == ADJUSTMENT_REFERENCE:
        # Its counterpart must meet the same threshold and budget as it did.
        raise NotReversible("An adjustment is corrected by another adjustment")
    shape = await _shape(session, original)
    if shape.amount < 0:
        raise NotReversible("Only two-posting transactions with a wallet can be reversed")
    if any(
        p.amount > 0 and shape.accounts[p.account_id].kind == AccountKind.issuance
        for p in original.postings
    ):
        # Undoing a take-back would pay out of the issuance account past the budget.
        raise NotReversible("良票 taken back into the issuance account are issued anew")
    # Lock first, then look for an earlier reversal: concurrent reversals queue here and
    # all but the first find it (the unique reverses_id is the last line of defence).
    await repo.lock_accounts(session, [shape.wallet.id] if shape.wallet else shape.accounts)
    if await repo.reversal_of(session, original.id) is not None:
        raise AlreadyReversed()
    entry = Entry(
        region_id=original.region_id,
        kind=TxKind.reverse,
        reference_type=reference_type,
        reference_id=reference_id or str(original.id),
        actor=actor,
        metadata=metadata,
        reverses_id=original.id,
    )
    if _is_spend(original, shape):
        return await _give_back(session, entry, spend=original, shape=shape, amount=amount)
    if shape.wallet is not None:
        return await _take_back_lot(session, entry, original=original, shape=shape, amount=amount)
    return await _negate(session, entry, original=original, shape=shape, amount=amount)


async def _take_back_lot(
    session: AsyncSession,
    entry: Entry,
    *,
    original: LedgerTransaction,
    shape: _Shape,
    amount: int | None,
) -> LedgerTransaction:
    assert shape.wallet is not None
    assert shape.other is not None
    lot = await repo.lot_created_by(session, original.id)
    if lot is None:
        raise NotReversible("The transaction created no lot to take back")
    free = lot.remaining - lot.reserved
    if amount is None:
        amount = free
    if amount > free or amount == 0:
        raise ReversalExceedsRemainder(
            f"{free} 良票 of this credit remain unspent; {amount} asked",
            remaining=free,
            requested=amount,
        )
    await repo.change_wallet(session, account_id=shape.wallet.id, posted=-amount)
    await repo.change_lots(session, {lot.id: (-amount, 0)})
    await repo.credit(session, region_id=entry.region_id, account_id=shape.other.id, amount=amount)
    tx = await new_transaction(
        session, entry, [(shape.wallet.id, -amount), (shape.other.id, amount)]
    )
    await lot_entries(session, tx, LotEntryKind.draw, [(lot.id, -amount)])
    return tx


async def _negate(
    session: AsyncSession,
    entry: Entry,
    *,
    original: LedgerTransaction,
    shape: _Shape,
    amount: int | None,
) -> LedgerTransaction:
    if amount is None or amount == shape.amount:
        postings = [(p.account_id, -p.amount) for p in original.postings]
    elif len(original.postings) == 2:
        if amount > shape.amount:
            raise ReversalExceedsRemainder(
                f"The transaction moved {shape.amount} 良票; {amount} asked",
                remaining=shape.amount,
                requested=amount,
            )
        postings = [(p.account_id, -amount if p.amount > 0 else amount) for p in original.postings]
    else:
        raise NotReversible("A transaction of more than two postings is reversed whole")
    return await post_between(session, entry, postings)
