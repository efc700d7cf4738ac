"""The ledger's use cases: accounts, issuance, spends, refunds, reversals, holds, expiry.

Other features move 良票 only through these functions. Each one writes inside the
caller's unit of work (never commits) and keeps the invariants of DESIGN.md §2:
postings sum to zero; a wallet never goes below zero, counting open holds as
spent; every cached balance moves with its postings; a transaction is reversed
at most once; spends draw on a wallet's lots oldest expiry first and never on an
expired lot.

Locks are taken in one order everywhere — the wallet's account row first, then
the other accounts by id — so concurrent use cases wait for each other instead
of deadlocking, and everything that touches a wallet's lots is serialized by that
first lock. A shared account (a merchant's, the region's issuance account) is
changed as late as possible, so that its row lock is held briefly.

The spend path is counted in round trips: on PostgreSQL a spend is two
statements (the conditional wallet debit, then one write of everything else, lot
draws included) between BEGIN and COMMIT.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.core import clock
from app.core.pagination import (
    Page,
    PageParams,
    decode_cursor,
    encode_cursor,
    parse_cursor_int,
)
from app.identity.principals import StaffContext
from app.ledger import repository as repo
from app.ledger import schemas
from app.ledger.errors import (
    AccountKindNotAllowed,
    AccountNotFound,
    AlreadyReversed,
    HoldAlreadyResolved,
    HoldNotFound,
    HoldPostExceedsAmount,
    InsufficientBalance,
    InvalidAmount,
    InvalidPostings,
    LedgerAdminRequired,
    NotRefundable,
    NotReversible,
    RefundExceedsRemainder,
    ReversalExceedsRemainder,
    StatementTooLarge,
    TransactionIdConflict,
    TransactionNotFound,
)
from app.ledger.models import (
    SYSTEM_KINDS,
    Account,
    AccountKind,
    Hold,
    HoldLot,
    HoldResolution,
    HoldStatus,
    LedgerTransaction,
    LotEntryKind,
    Posting,
    TxKind,
)
from app.orgs.models import Region
from app.volunteers.models import Volunteer

# The contract other features code against (the ledger's kinds come with it).
__all__ = [
    "AccountKind",
    "Balance",
    "LotView",
    "NextExpiry",
    "Spend",
    "TxKind",
    "WalletSummary",
    "account_balance",
    "adjustment_accounts",
    "expire_lots_of_wallet",
    "hold_from_wallet",
    "holds_due",
    "issue_to_wallet",
    "lot_expiry",
    "merchant_account",
    "post_adjustment",
    "post_hold",
    "refund_spend",
    "reverse_transaction",
    "spend_from_wallet",
    "system_account",
    "time_out_hold",
    "transfer",
    "void_hold",
    "wallet_account",
    "wallet_summary",
    "wallets_due_for_expiry",
]

DEFAULT_HOLD_TTL = timedelta(minutes=15)
MAX_AMOUNT = 10**12
EXPIRY_ACTOR = "system:lot-expiry"
ADJUSTMENT_REFERENCE = "adjustment"
HOLD_TIMEOUT_ACTOR = "system:hold-timeout"


@dataclass(frozen=True)
class Balance:
    posted: int
    pending: int

    @property
    def available(self) -> int:
        return self.posted - self.pending


@dataclass(frozen=True)
class Spend:
    """A spend from a wallet, with the wallet's available balance right after it."""

    transaction: LedgerTransaction
    available_after: int


@dataclass(frozen=True)
class LotView:
    id: uuid.UUID
    amount: int
    remaining: int
    reserved: int
    expires_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class NextExpiry:
    expires_at: datetime
    amount: int


@dataclass(frozen=True)
class WalletSummary:
    account_id: uuid.UUID | None
    balance: Balance
    # What can be spent now: the unreserved remainder of unexpired lots.
    spendable: int
    lots: list[LotView]
    next_expiry: NextExpiry | None


def _require_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise InvalidAmount(f"Amounts are whole 良票 from 1 to {MAX_AMOUNT}; got {amount!r}")


def lot_expiry(issued_at: datetime, timezone: str, *, years: int = 1) -> datetime:
    """When a lot issued at `issued_at` expires: the end of 31 December of the year
    `years` after the issue, in the region's time (the default policy: the year after)."""
    tz = ZoneInfo(timezone)
    year = issued_at.astimezone(tz).year + years + 1
    return datetime(year, 1, 1, tzinfo=tz).astimezone(UTC)


async def _default_expiry(session: AsyncSession, region_id: uuid.UUID, now: datetime) -> datetime:
    region = await session.get(Region, region_id)
    return lot_expiry(now, region.timezone if region else "Asia/Shanghai")


# Accounts


async def _account(
    session: AsyncSession, *, region_id: uuid.UUID, kind: AccountKind, owner_id: uuid.UUID
) -> Account:
    account = await repo.find_account(session, region_id=region_id, kind=kind, owner_id=owner_id)
    if account is None:
        await repo.insert_account(
            session,
            region_id=region_id,
            kind=kind,
            owner_id=owner_id,
            allow_negative=kind == AccountKind.issuance,
        )
        account = await repo.find_account(
            session, region_id=region_id, kind=kind, owner_id=owner_id
        )
    assert account is not None
    return account


async def _account_id(
    session: AsyncSession, *, region_id: uuid.UUID, kind: AccountKind, owner_id: uuid.UUID
) -> uuid.UUID:
    """The account's id, created on first use (lighter than loading the account)."""
    account_id = await repo.find_account_id(
        session, region_id=region_id, kind=kind, owner_id=owner_id
    )
    if account_id is None:
        account_id = (await _account(session, region_id=region_id, kind=kind, owner_id=owner_id)).id
    return account_id


async def wallet_account(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> Account:
    """The volunteer's wallet, created on first use."""
    return await _account(
        session, region_id=region_id, kind=AccountKind.wallet, owner_id=volunteer_id
    )


async def merchant_account(
    session: AsyncSession, *, region_id: uuid.UUID, merchant_id: uuid.UUID
) -> Account:
    """The merchant's receipts account, created on first use."""
    return await _account(
        session, region_id=region_id, kind=AccountKind.merchant, owner_id=merchant_id
    )


async def system_account(
    session: AsyncSession, *, region_id: uuid.UUID, kind: AccountKind
) -> Account:
    """The region's issuance, expired or settled account, created on first use."""
    if kind not in SYSTEM_KINDS:
        raise AccountKindNotAllowed(f"{kind} is not one of the region's own accounts")
    return await _account(session, region_id=region_id, kind=kind, owner_id=region_id)


async def account_balance(session: AsyncSession, *, account_id: uuid.UUID) -> Balance:
    account = await repo.get_account(session, account_id)
    if account is None:
        raise AccountNotFound()
    return Balance(posted=account.posted, pending=account.pending)


async def _insufficient(
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


def _transaction_rows(
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


def _record(values: dict[str, Any], rows: list[dict[str, Any]], seq: int) -> LedgerTransaction:
    """The written transaction as a plain record: the session does not track it (the rows
    are written with core inserts, which cost the hot path less than a flush), and its
    postings are set as loaded, without the collection's change events."""
    fields = {k: v for k, v in values.items() if k != "metadata"}
    tx = LedgerTransaction(seq=seq, meta=values["metadata"], **fields)
    set_committed_value(tx, "postings", [Posting(**row) for row in rows])
    return tx


async def _new_transaction(
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
    values, rows = _transaction_rows(
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
        raise _refusal(exc) from exc
    return _record(values, rows, seq)


def _refusal(exc: IntegrityError) -> Exception:
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


async def _replayed(
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


async def _lot_entries(
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


async def _debit_account_or_refuse(
    session: AsyncSession, *, region_id: uuid.UUID, account_id: uuid.UUID, amount: int
) -> None:
    if not await repo.debit(session, region_id=region_id, account_id=account_id, amount=amount):
        account = await repo.get_account(session, account_id, region_id=region_id)
        if account is None:
            raise AccountNotFound(f"No ledger account {account_id} in this region")
        raise await _insufficient(session, account_id, amount)


async def _move(
    session: AsyncSession, *, region_id: uuid.UUID, deltas: Sequence[tuple[uuid.UUID, int]]
) -> None:
    """Debit and credit non-wallet accounts in id order (the lock order); a debit that
    would overdraw a no-overdraft account is refused (InsufficientBalance)."""
    for account_id, delta in sorted(deltas):
        if delta < 0:
            await _debit_account_or_refuse(
                session, region_id=region_id, account_id=account_id, amount=-delta
            )
        else:
            await repo.credit(session, region_id=region_id, account_id=account_id, amount=delta)


async def _credit_wallet(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    source_id: uuid.UUID | None,
    amount: int,
    kind: TxKind,
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None,
    expires_at: datetime | None,
    transaction_id: uuid.UUID | None,
) -> LedgerTransaction:
    """Move `amount` from a non-wallet account (default: issuance) into a new lot."""
    _require_amount(amount)
    replayed = await _replayed(
        session,
        transaction_id,
        region_id=region_id,
        kind=kind,
        reference_type=reference_type,
        reference_id=reference_id,
        amount=amount,
    )
    if replayed is not None:
        return replayed
    now = clock.now()
    if expires_at is None:
        expires_at = await _default_expiry(session, region_id, now)
    if expires_at <= now:
        raise InvalidAmount("A lot must expire after it is issued")
    wallet_id = await _account_id(
        session, region_id=region_id, kind=AccountKind.wallet, owner_id=volunteer_id
    )
    await repo.change_wallet(session, account_id=wallet_id, posted=amount)
    if source_id is None:
        source_id = await _account_id(
            session, region_id=region_id, kind=AccountKind.issuance, owner_id=region_id
        )
    elif source_id == wallet_id:
        raise AccountKindNotAllowed("A wallet cannot credit itself")
    tx = await _new_transaction(
        session,
        region_id=region_id,
        kind=kind,
        postings=[(source_id, -amount), (wallet_id, amount)],
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
        now=now,
    )
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
    await _debit_account_or_refuse(
        session, region_id=region_id, account_id=source_id, amount=amount
    )
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
    return await _credit_wallet(
        session,
        region_id=region_id,
        volunteer_id=volunteer_id,
        source_id=None,
        amount=amount,
        kind=kind,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        expires_at=expires_at,
        transaction_id=transaction_id,
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
    _require_amount(amount)
    replayed = await _replayed(
        session,
        transaction_id,
        region_id=region_id,
        kind=kind,
        reference_type=reference_type,
        reference_id=reference_id,
        amount=amount,
    )
    if replayed is not None:
        wallet_id = next(p.account_id for p in replayed.postings if p.amount < 0)
        return Spend(replayed, (await account_balance(session, account_id=wallet_id)).available)
    now = clock.now()
    # The check and the debit are one statement, which also locks the wallet row.
    debited = await repo.debit_wallet_of(
        session, region_id=region_id, owner_id=volunteer_id, amount=amount
    )
    if debited is None:
        wallet = await repo.find_account(
            session, region_id=region_id, kind=AccountKind.wallet, owner_id=volunteer_id
        )
        raise await _insufficient(session, wallet.id if wallet else None, amount)
    wallet_id, available_after = debited
    values, rows = _transaction_rows(
        region_id=region_id,
        kind=kind,
        postings=[(wallet_id, -amount), (to_account_id, amount)],
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
        reverses_id=None,
        refunds_id=None,
        now=now,
    )
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
        raise _refusal(exc) from exc
    if written.seq is None:  # lots past their expiry hold the rest of the balance
        raise await _insufficient(session, wallet_id, amount, live=written.live)
    if not written.credited:
        account = await repo.get_account(session, to_account_id, region_id=region_id)
        if account is None:
            raise AccountNotFound(f"No ledger account {to_account_id} in this region")
        raise AccountKindNotAllowed("Spend to a merchant or system account, not to a wallet")
    return Spend(_record(values, rows, written.seq), available_after)


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
    *,
    spend: LedgerTransaction,
    shape: _Shape,
    amount: int | None,
    kind: TxKind,
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None,
    transaction_id: uuid.UUID | None,
    reversal: bool,
) -> LedgerTransaction:
    """Return `amount` of a spend to the lots it drew on; an expired lot's share goes to
    the region's expired account. The caller holds the wallet's lock."""
    assert shape.wallet is not None
    assert shape.other is not None
    region_id = spend.region_id
    now = clock.now()
    lots = await repo.restorable_lots(session, spend.id)
    remainder = sum(left for _, _, left in lots)
    if amount is None:
        amount = remainder
    if amount > remainder or amount == 0:
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
    await _move(session, region_id=region_id, deltas=others)  # after the wallet
    postings = [*others, (shape.wallet.id, live)]
    tx = await _new_transaction(
        session,
        region_id=region_id,
        kind=kind,
        postings=postings,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
        reverses_id=spend.id if reversal else None,
        refunds_id=None if reversal else spend.id,
        now=now,
    )
    await _lot_entries(
        session,
        region_id=region_id,
        transaction_id=tx.id,
        kind=LotEntryKind.restore,
        amounts=restores,
    )
    await _lot_entries(
        session,
        region_id=region_id,
        transaction_id=tx.id,
        kind=LotEntryKind.restore_expired,
        amounts=expired_shares,
    )
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
    _require_amount(amount)
    spend = await repo.transaction_by_id(session, original_transaction_id)
    if spend is None:
        raise TransactionNotFound()
    replayed = await _replayed(
        session,
        transaction_id,
        region_id=spend.region_id,
        kind=kind,
        reference_type=reference_type,
        reference_id=reference_id,
        amount=amount,
    )
    if replayed is not None:
        return replayed
    shape = await _shape(session, spend)
    if not _is_spend(spend, shape):
        raise NotRefundable()
    assert shape.wallet is not None
    await repo.lock_accounts(session, [shape.wallet.id])
    return await _give_back(
        session,
        spend=spend,
        shape=shape,
        amount=amount,
        kind=kind,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
        reversal=False,
    )


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
        _require_amount(amount)
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
    reference = reference_id or str(original.id)
    if _is_spend(original, shape):
        return await _give_back(
            session,
            spend=original,
            shape=shape,
            amount=amount,
            kind=TxKind.reverse,
            reference_type=reference_type,
            reference_id=reference,
            actor=actor,
            metadata=metadata,
            transaction_id=None,
            reversal=True,
        )
    if shape.wallet is not None:
        return await _take_back_lot(
            session,
            original=original,
            shape=shape,
            amount=amount,
            reference_type=reference_type,
            reference_id=reference,
            actor=actor,
            metadata=metadata,
        )
    return await _negate(
        session,
        original=original,
        shape=shape,
        amount=amount,
        reference_type=reference_type,
        reference_id=reference,
        actor=actor,
        metadata=metadata,
    )


async def _take_back_lot(
    session: AsyncSession,
    *,
    original: LedgerTransaction,
    shape: _Shape,
    amount: int | None,
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None,
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
    region_id = original.region_id
    await repo.change_wallet(session, account_id=shape.wallet.id, posted=-amount)
    await repo.change_lots(session, {lot.id: (-amount, 0)})
    await repo.credit(session, region_id=region_id, account_id=shape.other.id, amount=amount)
    tx = await _new_transaction(
        session,
        region_id=region_id,
        kind=TxKind.reverse,
        postings=[(shape.wallet.id, -amount), (shape.other.id, amount)],
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        reverses_id=original.id,
    )
    await _lot_entries(
        session,
        region_id=region_id,
        transaction_id=tx.id,
        kind=LotEntryKind.draw,
        amounts=[(lot.id, -amount)],
    )
    return tx


async def _negate(
    session: AsyncSession,
    *,
    original: LedgerTransaction,
    shape: _Shape,
    amount: int | None,
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None,
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
    return await _post_between(
        session,
        region_id=original.region_id,
        kind=TxKind.reverse,
        postings=postings,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        reverses_id=original.id,
    )


async def _post_between(
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
    await _move(session, region_id=region_id, deltas=postings)
    tx = await _new_transaction(
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
    ids = [account_id for account_id, _ in postings]
    if (
        len(postings) < 2
        or len(set(ids)) != len(ids)
        or any(isinstance(a, bool) or not isinstance(a, int) or a == 0 for _, a in postings)
        or sum(a for _, a in postings) != 0
        or any(abs(a) > MAX_AMOUNT for _, a in postings)
    ):
        raise InvalidPostings()
    replayed = await _replayed(
        session,
        transaction_id,
        region_id=region_id,
        kind=kind,
        reference_type=reference_type,
        reference_id=reference_id,
        amount=sum(a for _, a in postings if a > 0),
    )
    if replayed is not None:
        return replayed
    accounts = await repo.lock_accounts(session, ids)
    if len(accounts) != len(ids) or any(a.region_id != region_id for a in accounts.values()):
        raise AccountNotFound("A posting names an account that is not in this region")
    if any(a.kind == AccountKind.wallet for a in accounts.values()):
        raise AccountKindNotAllowed("Wallets move 良票 only through issuance, spends and refunds")
    return await _post_between(
        session,
        region_id=region_id,
        kind=kind,
        postings=postings,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
    )


# Holds


async def hold_from_wallet(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    to_account_id: uuid.UUID,
    amount: int,
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> Hold:
    """Hold `amount` of the wallet for `to_account_id`: available counts it as spent
    until it is posted, voided, or times out at `expires_at` (default 15 minutes)."""
    _require_amount(amount)
    now = clock.now()
    expires_at = expires_at or now + DEFAULT_HOLD_TTL
    if expires_at <= now:
        raise InvalidAmount("A hold must time out in the future")
    target = await repo.get_account(session, to_account_id, region_id=region_id)
    if target is None:
        raise AccountNotFound(f"No ledger account {to_account_id} in this region")
    if target.kind == AccountKind.wallet:
        raise AccountKindNotAllowed("Hold for a merchant or system account, not a wallet")
    wallet_id = await repo.hold_on_wallet_of(
        session, region_id=region_id, owner_id=volunteer_id, amount=amount
    )
    if wallet_id is None:
        wallet = await repo.find_account(
            session, region_id=region_id, kind=AccountKind.wallet, owner_id=volunteer_id
        )
        raise await _insufficient(session, wallet.id if wallet else None, amount)
    reservations = await repo.lot_draws(
        session, region_id=region_id, wallet_id=wallet_id, amount=amount, now=now
    )
    live = sum(take for _, take in reservations)
    if live < amount:
        raise await _insufficient(session, wallet_id, amount, live=live)
    await repo.change_lots(session, {lot_id: (0, take) for lot_id, take in reservations})
    hold = Hold(
        id=uuid.uuid4(),
        region_id=region_id,
        account_id=wallet_id,
        to_account_id=to_account_id,
        amount=amount,
        expires_at=expires_at,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        meta=dict(metadata or {}),
        created_at=now,
    )
    session.add(hold)
    await session.flush()
    session.add_all(
        HoldLot(region_id=region_id, hold_id=hold.id, lot_id=lot_id, amount=take)
        for lot_id, take in reservations
    )
    await session.flush()
    return hold


async def _open_hold(
    session: AsyncSession, hold_id: uuid.UUID, region_id: uuid.UUID | None
) -> Hold:
    """The hold, its wallet locked, refused if it has already resolved."""
    hold = await repo.hold_by_id(session, hold_id)
    if hold is None or (region_id is not None and hold.region_id != region_id):
        raise HoldNotFound()
    await repo.lock_accounts(session, [hold.account_id])
    resolution = await repo.resolution_of(session, hold.id)
    if resolution is not None:
        raise HoldAlreadyResolved(f"The hold was {resolution.status}", status=resolution.status)
    return hold


async def _release(
    session: AsyncSession, hold: Hold, *, posted: int
) -> list[tuple[uuid.UUID, int]]:
    """Release the hold's reservations, drawing `posted` of them; returns the draws."""
    draws: list[tuple[uuid.UUID, int]] = []
    changes: dict[uuid.UUID, tuple[int, int]] = {}
    left = posted
    for lot_id, reserved in await repo.reservations_of(session, hold.id):
        take = min(left, reserved)
        left -= take
        changes[lot_id] = (-take, -reserved)
        if take:
            draws.append((lot_id, take))
    await repo.change_lots(session, changes)
    await repo.change_wallet(
        session, account_id=hold.account_id, posted=-posted, pending=-hold.amount
    )
    return draws


async def post_hold(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    actor: str,
    amount: int | None = None,
    kind: TxKind = TxKind.redeem,
    reference_type: str | None = None,
    reference_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    region_id: uuid.UUID | None = None,
) -> LedgerTransaction:
    """Post the hold, wholly or `amount` of it; the rest is released."""
    hold = await _open_hold(session, hold_id, region_id)
    if hold.expires_at <= clock.now():
        raise HoldAlreadyResolved("The hold has timed out", status=HoldStatus.expired)
    posted = hold.amount if amount is None else amount
    _require_amount(posted)
    if posted > hold.amount:
        raise HoldPostExceedsAmount(f"The hold is for {hold.amount} 良票; {posted} asked")
    draws = await _release(session, hold, posted=posted)
    await repo.credit(
        session, region_id=hold.region_id, account_id=hold.to_account_id, amount=posted
    )
    tx = await _new_transaction(
        session,
        region_id=hold.region_id,
        kind=kind,
        postings=[(hold.account_id, -posted), (hold.to_account_id, posted)],
        reference_type=reference_type or hold.reference_type,
        reference_id=reference_id or hold.reference_id,
        actor=actor,
        metadata={**hold.meta, **(metadata or {}), "hold_id": str(hold.id)},
    )
    await _lot_entries(
        session,
        region_id=hold.region_id,
        transaction_id=tx.id,
        kind=LotEntryKind.draw,
        amounts=[(lot_id, -take) for lot_id, take in draws],
    )
    session.add(
        HoldResolution(
            region_id=hold.region_id,
            hold_id=hold.id,
            status=HoldStatus.posted,
            posted_amount=posted,
            transaction_id=tx.id,
            actor=actor,
            created_at=tx.created_at,
        )
    )
    await session.flush()
    return tx


async def _end_hold(
    session: AsyncSession, hold: Hold, *, status: HoldStatus, actor: str
) -> HoldResolution:
    await _release(session, hold, posted=0)
    resolution = HoldResolution(
        region_id=hold.region_id,
        hold_id=hold.id,
        status=status,
        posted_amount=0,
        transaction_id=None,
        actor=actor,
        created_at=clock.now(),
    )
    session.add(resolution)
    await session.flush()
    return resolution


async def void_hold(
    session: AsyncSession, *, hold_id: uuid.UUID, actor: str, region_id: uuid.UUID | None = None
) -> HoldResolution:
    """Release the hold without moving any 良票."""
    hold = await _open_hold(session, hold_id, region_id)
    return await _end_hold(session, hold, status=HoldStatus.voided, actor=actor)


async def holds_due(session: AsyncSession, *, limit: int) -> list[uuid.UUID]:
    """Open holds past their timeout, oldest first."""
    return [hold.id for hold in await repo.due_holds(session, now=clock.now(), limit=limit)]


async def time_out_hold(session: AsyncSession, *, hold_id: uuid.UUID) -> bool:
    """Release a hold past its timeout; False if it resolved meanwhile."""
    hold = await repo.hold_by_id(session, hold_id)
    if hold is None or hold.expires_at > clock.now():
        return False
    await repo.lock_accounts(session, [hold.account_id])
    if await repo.resolution_of(session, hold.id) is not None:
        return False
    await _end_hold(session, hold, status=HoldStatus.expired, actor=HOLD_TIMEOUT_ACTOR)
    return True


# Expiry


async def expire_lots_of_wallet(session: AsyncSession, *, account_id: uuid.UUID) -> int | None:
    """Expire the unspent remainder of the wallet's due lots into the expired account,
    one transaction per lot. None when a request holds the wallet (try again later).

    A lot with an open hold on it waits until the hold resolves: the hold was taken
    while the lot was live and may still be posted.
    """
    wallet = await repo.lock_wallet_if_free(session, account_id)
    if wallet is None:
        return None
    now = clock.now()
    lots = await repo.due_lots(session, account_id=account_id, now=now)
    if not lots:
        return 0
    expired = await system_account(session, region_id=wallet.region_id, kind=AccountKind.expired)
    total = sum(lot.remaining for lot in lots)
    await repo.change_wallet(session, account_id=wallet.id, posted=-total)
    await repo.change_lots(session, {lot.id: (-lot.remaining, 0) for lot in lots})
    await repo.credit(session, region_id=wallet.region_id, account_id=expired.id, amount=total)
    for lot in lots:
        tx = await _new_transaction(
            session,
            region_id=wallet.region_id,
            kind=TxKind.expire,
            postings=[(wallet.id, -lot.remaining), (expired.id, lot.remaining)],
            reference_type="ledger_lot",
            reference_id=str(lot.id),
            actor=EXPIRY_ACTOR,
            metadata={"expires_at": lot.expires_at.isoformat()},
            now=now,
        )
        await _lot_entries(
            session,
            region_id=wallet.region_id,
            transaction_id=tx.id,
            kind=LotEntryKind.expire,
            amounts=[(lot.id, -lot.remaining)],
        )
    return len(lots)


async def wallets_due_for_expiry(session: AsyncSession, *, limit: int) -> list[uuid.UUID]:
    return await repo.wallets_with_due_lots(session, now=clock.now(), limit=limit)


# Reads


async def wallet_summary(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> WalletSummary:
    """The wallet's balance, its unexpired lots and the next expiry (nothing is created)."""
    account = await repo.find_account(
        session, region_id=region_id, kind=AccountKind.wallet, owner_id=volunteer_id
    )
    if account is None:
        return WalletSummary(
            account_id=None, balance=Balance(0, 0), spendable=0, lots=[], next_expiry=None
        )
    lots = await repo.lots_of(
        session, region_id=region_id, account_id=account.id, live_at=clock.now()
    )
    views = [
        LotView(
            id=lot.id,
            amount=lot.amount,
            remaining=lot.remaining,
            reserved=lot.reserved,
            expires_at=lot.expires_at,
            created_at=lot.created_at,
        )
        for lot in lots
    ]
    next_expiry = None
    if views:
        first = views[0].expires_at
        next_expiry = NextExpiry(
            expires_at=first, amount=sum(v.remaining for v in views if v.expires_at == first)
        )
    return WalletSummary(
        account_id=account.id,
        balance=Balance(posted=account.posted, pending=account.pending),
        spendable=sum(v.remaining - v.reserved for v in views),
        lots=views,
        next_expiry=next_expiry,
    )


# The HTTP API's use cases


def require_ledger_admin(staff: StaffContext) -> None:
    """The ledger is seen and adjusted by the region's center admins."""
    if not staff.is_center_admin:
        raise LedgerAdminRequired()


def _account_out(account: Account) -> schemas.Account:
    return schemas.Account(
        id=account.id,
        region_id=account.region_id,
        kind=account.kind,
        owner_id=account.owner_id,
        allow_negative=account.allow_negative,
        balance=schemas.Balance(
            posted=account.posted, pending=account.pending, available=account.available
        ),
        created_at=account.created_at,
    )


def transaction_out(tx: LedgerTransaction) -> schemas.Transaction:
    return schemas.Transaction(
        id=tx.id,
        seq=tx.seq,
        region_id=tx.region_id,
        kind=tx.kind,
        reference_type=tx.reference_type,
        reference_id=tx.reference_id,
        actor=tx.actor,
        metadata=tx.meta,
        created_at=tx.created_at,
        reverses_id=tx.reverses_id,
        refunds_id=tx.refunds_id,
        postings=[
            schemas.PostingOut(account_id=p.account_id, amount=p.amount) for p in tx.postings
        ],
    )


async def _staff_account(
    session: AsyncSession, staff: StaffContext, account_id: uuid.UUID
) -> Account:
    account = await repo.get_account(session, account_id, region_id=staff.region_id)
    if account is None:
        raise AccountNotFound()
    return account


async def account_for_staff(
    session: AsyncSession, *, staff: StaffContext, account_id: uuid.UUID
) -> schemas.Account:
    require_ledger_admin(staff)
    return _account_out(await _staff_account(session, staff, account_id))


async def transaction_for_staff(
    session: AsyncSession, *, staff: StaffContext, transaction_id: uuid.UUID
) -> schemas.Transaction:
    require_ledger_admin(staff)
    tx = await repo.transaction_by_id(session, transaction_id, region_id=staff.region_id)
    if tx is None:
        raise TransactionNotFound()
    return transaction_out(tx)


async def my_wallet(session: AsyncSession, *, volunteer: Volunteer) -> schemas.Wallet:
    summary = await wallet_summary(
        session, region_id=volunteer.region_id, volunteer_id=volunteer.id
    )
    return schemas.Wallet(
        balance=schemas.Balance(
            posted=summary.balance.posted,
            pending=summary.balance.pending,
            available=summary.balance.available,
        ),
        spendable=summary.spendable,
        lots=[
            schemas.Lot(
                id=lot.id,
                amount=lot.amount,
                remaining=lot.remaining,
                reserved=lot.reserved,
                expires_at=lot.expires_at,
                issued_at=lot.created_at,
            )
            for lot in summary.lots
        ],
        next_expiry=(
            schemas.NextExpiry(
                expires_at=summary.next_expiry.expires_at, amount=summary.next_expiry.amount
            )
            if summary.next_expiry
            else None
        ),
    )


async def my_wallet_entries(
    session: AsyncSession, *, volunteer: Volunteer, page: PageParams
) -> Page[schemas.WalletEntry]:
    """The wallet's transactions, newest first, each with its counterparts and cause."""
    cursor = decode_cursor(page.cursor, arity=1)
    before = parse_cursor_int(cursor[0]) if cursor is not None else None
    account = await repo.find_account(
        session, region_id=volunteer.region_id, kind=AccountKind.wallet, owner_id=volunteer.id
    )
    if account is None:
        return Page(items=[], next_cursor=None)
    rows = await repo.wallet_history(
        session, account_id=account.id, before_posting_id=before, limit=page.limit + 1
    )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    others: dict[uuid.UUID, list[schemas.Counterpart]] = {}
    for tx_id, account_id, amount, kind, owner_id in await repo.postings_of(
        session, {tx.id for _, tx in rows}
    ):
        if account_id != account.id:
            others.setdefault(tx_id, []).append(
                schemas.Counterpart(
                    account_id=account_id, kind=kind, owner_id=owner_id, amount=amount
                )
            )
    items = [
        schemas.WalletEntry(
            transaction_id=tx.id,
            seq=tx.seq,
            kind=tx.kind,
            amount=posting.amount,
            created_at=tx.created_at,
            counterparts=others.get(tx.id, []),
            cause=schemas.Cause(reference_type=tx.reference_type, reference_id=tx.reference_id),
            description=_description(tx.meta),
        )
        for posting, tx in rows
    ]
    next_cursor = encode_cursor(rows[-1][0].id) if more and rows else None
    return Page(items=items, next_cursor=next_cursor)


def _description(meta: dict[str, Any]) -> str | None:
    value = meta.get("description")
    return value[:200] if isinstance(value, str) else None


STATEMENT_MAX_ROWS = 100_000
STATEMENT_COLUMNS = (
    "seq",
    "transaction_id",
    "created_at",
    "kind",
    "reference_type",
    "reference_id",
    "actor",
    "amount",
    "balance",
)


async def statement_csv(
    session: AsyncSession,
    *,
    staff: StaffContext,
    account_id: uuid.UUID,
    since: datetime | None,
    until: datetime | None,
) -> str:
    """The account's postings in ledger order with a running balance, as CSV; the first
    row carries the opening balance at `since`."""
    require_ledger_admin(staff)
    account = await _staff_account(session, staff, account_id)
    opening = (
        0
        if since is None
        else await repo.balance_before(session, account_id=account.id, since=since)
    )
    rows = await repo.statement_rows(
        session, account_id=account.id, since=since, until=until, limit=STATEMENT_MAX_ROWS + 1
    )
    if len(rows) > STATEMENT_MAX_ROWS:
        raise StatementTooLarge(f"More than {STATEMENT_MAX_ROWS} postings; narrow since/until")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(STATEMENT_COLUMNS)
    opened_at = since.isoformat() if since else ""
    writer.writerow(["", "", opened_at, "opening_balance", "", "", "", 0, opening])
    balance = opening
    for posting, tx in rows:
        balance += posting.amount
        writer.writerow(
            [
                tx.seq,
                tx.id,
                tx.created_at.isoformat(),
                tx.kind,
                _csv_safe(tx.reference_type),
                _csv_safe(tx.reference_id),
                _csv_safe(tx.actor),
                posting.amount,
                balance,
            ]
        )
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """Neutralise cells a spreadsheet would run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def adjustment_accounts(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    debit_account_id: uuid.UUID,
    credit_account_id: uuid.UUID,
) -> tuple[Account, Account]:
    """The two accounts of an adjustment, checked: distinct, of the region, not two wallets."""
    if debit_account_id == credit_account_id:
        raise InvalidPostings("The debit and the credit account must differ")
    accounts = await repo.accounts_by_id(session, (debit_account_id, credit_account_id))
    debit = accounts.get(debit_account_id)
    credit_to = accounts.get(credit_account_id)
    if (
        debit is None
        or credit_to is None
        or debit.region_id != region_id
        or credit_to.region_id != region_id
    ):
        raise AccountNotFound("Both accounts must exist in your region")
    if debit.kind == AccountKind.wallet and credit_to.kind == AccountKind.wallet:
        raise AccountKindNotAllowed("An adjustment cannot move 良票 between two wallets")
    return debit, credit_to


async def post_adjustment(
    session: AsyncSession,
    *,
    debit: Account,
    credit_to: Account,
    amount: int,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any],
    transaction_id: uuid.UUID | None = None,
) -> schemas.Transaction:
    """Post a correction between two accounts read by `adjustment_accounts`.

    A wallet on either side goes through its lots (a debit draws them, a credit makes
    a new one); the actor and the reason stay in the transaction. Who may adjust, and
    when a second person must agree, is `app.rewards.adjustments`' to decide."""
    region_id = debit.region_id
    common: dict[str, Any] = {
        "amount": amount,
        "kind": TxKind.adjust,
        "reference_type": ADJUSTMENT_REFERENCE,
        "reference_id": reference_id,
        "actor": actor,
        "metadata": metadata,
        "transaction_id": transaction_id,
    }
    if debit.kind == AccountKind.wallet:
        spent = await spend_from_wallet(
            session,
            region_id=region_id,
            volunteer_id=debit.owner_id,
            to_account_id=credit_to.id,
            **common,
        )
        tx = spent.transaction
    elif credit_to.kind == AccountKind.wallet:
        tx = await _credit_wallet(
            session,
            region_id=region_id,
            volunteer_id=credit_to.owner_id,
            source_id=debit.id,
            expires_at=None,
            **common,
        )
    else:
        tx = await transfer(
            session,
            region_id=region_id,
            kind=TxKind.adjust,
            postings=[(debit.id, -amount), (credit_to.id, amount)],
            reference_type=ADJUSTMENT_REFERENCE,
            reference_id=reference_id,
            actor=actor,
            metadata=metadata,
            transaction_id=transaction_id,
        )
    return transaction_out(tx)


async def reverse_for_staff(
    session: AsyncSession,
    *,
    staff: StaffContext,
    transaction_id: uuid.UUID,
    data: schemas.ReversalCreate,
) -> schemas.Transaction:
    require_ledger_admin(staff)
    tx = await reverse_transaction(
        session,
        transaction_id=transaction_id,
        region_id=staff.region_id,
        amount=data.amount,
        actor=staff.scope_key,
        metadata={"reason": data.reason, "reversed_by": str(staff.id)},
    )
    return transaction_out(tx)
