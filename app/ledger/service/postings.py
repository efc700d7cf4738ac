"""Postings into and out of wallets: issuance, spends and transfers.

An issue credits a wallet with a new lot; a spend debits it, drawing on its lots
oldest expiry first. The spend path is counted in round trips: on PostgreSQL a
spend is two statements (the conditional wallet debit, then one write of
everything else, lot draws included) between BEGIN and COMMIT. A transfer moves
良票 between accounts that are not wallets (settlement).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.ledger import repository as repo
from app.ledger.errors import (
    AccountKindNotAllowed,
    AccountNotFound,
    InvalidAmount,
    InvalidPostings,
)
from app.ledger.models import (
    AccountKind,
    LedgerTransaction,
    TxKind,
)
from app.ledger.service.accounts import account_balance, account_id_of, default_expiry
from app.ledger.service.transactions import (
    MAX_AMOUNT,
    Entry,
    debit_account_or_refuse,
    find_replay,
    insufficient,
    new_transaction,
    post_between,
    record,
    refusal,
    require_amount,
    transaction_rows,
    wallet_insufficient,
)


@dataclass(frozen=True)
class Spend:
    """A spend from a wallet, with the wallet's available balance right after it."""

    transaction: LedgerTransaction
    available_after: int


async def credit_wallet(
    session: AsyncSession,
    entry: Entry,
    *,
    volunteer_id: uuid.UUID,
    source_id: uuid.UUID | None,
    amount: int,
    expires_at: datetime | None,
) -> LedgerTransaction:
    """Move `amount` from a non-wallet account (default: issuance) into a new lot."""
    require_amount(amount)
    replayed = await find_replay(session, entry, amount=amount)
    if replayed is not None:
        return replayed
    region_id = entry.region_id
    now = clock.now()
    if expires_at is None:
        expires_at = await default_expiry(session, region_id, now)
    if expires_at <= now:
        raise InvalidAmount("A lot must expire after it is issued")
    wallet_id = await account_id_of(
        session, region_id=region_id, kind=AccountKind.wallet, owner_id=volunteer_id
    )
    await repo.change_wallet(session, account_id=wallet_id, posted=amount)
    if source_id is None:
        source_id = await account_id_of(
            session, region_id=region_id, kind=AccountKind.issuance, owner_id=region_id
        )
    elif source_id == wallet_id:
        raise AccountKindNotAllowed("A wallet cannot credit itself")
    tx = await new_transaction(session, entry, [(source_id, -amount), (wallet_id, amount)], now=now)
    await repo.insert_lot(
        session,
        {
            "id": uuid.uuid4(),
            "region_id": region_id,
            "account_id": wallet_id,
            "transaction_id": tx.id,
            "amount": amount,
            "remaining": amount,
            "reserved": 0,
            "expires_at": expires_at,
            "created_at": now,
        },
    )
    # Last: the issuance account is shared by every issue of the region, so its row
    # lock is held for as short a time as possible (until the commit that follows).
    await debit_account_or_refuse(session, region_id=region_id, account_id=source_id, amount=amount)
    return tx


async def issue_to_wallet(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    amount: int,
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
    transaction_id: uuid.UUID | None = None,
    kind: TxKind = TxKind.issue,
) -> LedgerTransaction:
    """Issue new 良票 from the region's issuance account into a new lot of the wallet.

    The lot expires at `expires_at`, by default per `lot_expiry()` in the region's
    timezone. A caller-chosen `transaction_id` makes a retry return the first result.
    """
    entry = Entry(
        region_id=region_id,
        kind=kind,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
    )
    return await credit_wallet(
        session,
        entry,
        volunteer_id=volunteer_id,
        source_id=None,
        amount=amount,
        expires_at=expires_at,
    )


async def spend_from_wallet(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    to_account_id: uuid.UUID,
    amount: int,
    kind: TxKind,
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None = None,
    transaction_id: uuid.UUID | None = None,
) -> Spend:
    """Move `amount` from the volunteer's wallet to a merchant or system account.

    Refuses with `InsufficientBalance` (409) unless the wallet's available balance
    (open holds counted as spent) and its unexpired lots both cover the amount.
    """
    entry = Entry(
        region_id=region_id,
        kind=kind,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
    )
    return await spend(
        session, entry, volunteer_id=volunteer_id, to_account_id=to_account_id, amount=amount
    )


async def spend(
    session: AsyncSession,
    entry: Entry,
    *,
    volunteer_id: uuid.UUID,
    to_account_id: uuid.UUID,
    amount: int,
) -> Spend:
    """`spend_from_wallet`, for a transaction the caller has described."""
    require_amount(amount)
    replayed = await find_replay(session, entry, amount=amount)
    if replayed is not None:
        wallet_id = next(p.account_id for p in replayed.postings if p.amount < 0)
        return Spend(replayed, (await account_balance(session, account_id=wallet_id)).available)
    region_id = entry.region_id
    now = clock.now()
    # The check and the debit are one statement, which also locks the wallet row.
    debited = await repo.debit_wallet_of(
        session, region_id=region_id, owner_id=volunteer_id, amount=amount
    )
    if debited is None:
        raise await wallet_insufficient(
            session, region_id=region_id, volunteer_id=volunteer_id, amount=amount
        )
    wallet_id, available_after = debited
    values, rows = transaction_rows(entry, [(wallet_id, -amount), (to_account_id, amount)], now=now)
    # The lot draws, the transaction, its postings and lot entries and the credit in
    # one write; the credit comes last, as a merchant's account row is shared by
    # every spend there.
    try:
        written = await repo.write_spend(
            session,
            transaction=values,
            postings=rows,
            wallet_id=wallet_id,
            to_account_id=to_account_id,
            amount=amount,
        )
    except IntegrityError as exc:
        raise refusal(exc) from exc
    if written.seq is None:  # lots past their expiry hold the rest of the balance
        raise await insufficient(session, wallet_id, amount, live=written.live)
    if not written.credited:
        account = await repo.get_account(session, to_account_id, region_id=region_id)
        if account is None:
            raise AccountNotFound(f"No ledger account {to_account_id} in this region")
        raise AccountKindNotAllowed("Spend to a merchant or system account, not to a wallet")
    return Spend(record(values, rows, written.seq), available_after)


async def transfer(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    kind: TxKind,
    postings: list[tuple[uuid.UUID, int]],
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None = None,
    transaction_id: uuid.UUID | None = None,
) -> LedgerTransaction:
    """A balanced transaction between accounts that are not wallets (settlement:
    merchant → settled). Each debit respects its account's no-overdraft flag."""
    entry = Entry(
        region_id=region_id,
        kind=kind,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
    )
    return await post_transfer(session, entry, postings)


async def post_transfer(
    session: AsyncSession, entry: Entry, postings: list[tuple[uuid.UUID, int]]
) -> LedgerTransaction:
    """`transfer`, for a transaction the caller has described."""
    ids = [account_id for account_id, _ in postings]
    if (
        len(postings) < 2
        or len(set(ids)) != len(ids)
        or any(isinstance(a, bool) or not isinstance(a, int) or a == 0 for _, a in postings)
        or sum(a for _, a in postings) != 0
        or any(abs(a) > MAX_AMOUNT for _, a in postings)
    ):
        raise InvalidPostings()
    replayed = await find_replay(session, entry, amount=sum(a for _, a in postings if a > 0))
    if replayed is not None:
        return replayed
    accounts = await repo.lock_accounts(session, ids)
    if len(accounts) != len(ids) or any(a.region_id != entry.region_id for a in accounts.values()):
        raise AccountNotFound("A posting names an account that is not in this region")
    if any(a.kind == AccountKind.wallet for a in accounts.values()):
        raise AccountKindNotAllowed("Wallets move 良票 only through issuance, spends and refunds")
    return await post_between(session, entry, postings)
