"""The ledger's SQL: account balance changes, lot draws, holds and the reads behind the API.

Balance changes are single conditional UPDATEs (`… WHERE posted - pending >= :amount`):
the check and the change are one atomic statement, and the row lock it takes is held
until commit. Every use case locks its rows in one fixed order — the wallet first,
then the other accounts by id — so concurrent use cases queue instead of deadlocking.
A wallet's lots are only ever changed by a holder of the wallet's row lock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    CursorResult,
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
from sqlalchemy.orm import selectinload
from sqlalchemy.types import Uuid

from app.core import clock
from app.core.db import UTCDateTime, fetch_rows, new_id, session_insert
from app.ledger.models import (
    Account,
    AccountKind,
    Hold,
    HoldLot,
    HoldResolution,
    LedgerTransaction,
    Lot,
    LotEntry,
    LotEntryKind,
    Posting,
)
from app.orgs.models import Region

_accounts = cast(Table, Account.__table__)
_lots = cast(Table, Lot.__table__)
_transactions = cast(Table, LedgerTransaction.__table__)
_postings = cast(Table, Posting.__table__)
_lot_entries = cast(Table, LotEntry.__table__)

# The spend path's statements are built once: building them per call costs more
# than running them.
_insert_transaction = insert(_transactions).returning(_transactions.c.seq)
_insert_postings = insert(_postings)
_insert_lot_entries = insert(_lot_entries)
_insert_lot = insert(_lots)
_wallet_of_owner = (
    (_accounts.c.region_id == bindparam("b_region"))
    & (_accounts.c.kind == AccountKind.wallet.value)
    & (_accounts.c.owner_id == bindparam("b_owner"))
    & (_accounts.c.posted - _accounts.c.pending >= bindparam("b_amount"))
)
_debit_wallet = (
    update(_accounts)
    .where(_wallet_of_owner)
    .values(posted=_accounts.c.posted - bindparam("b_amount"))
    .returning(_accounts.c.id, _accounts.c.posted - _accounts.c.pending)
)
_hold_on_wallet = (
    update(_accounts)
    .where(_wallet_of_owner)
    .values(pending=_accounts.c.pending + bindparam("b_amount"))
    .returning(_accounts.c.id)
)
_credit = (
    update(_accounts)
    .where(_accounts.c.id == bindparam("b_id"), _accounts.c.region_id == bindparam("b_region"))
    .values(posted=_accounts.c.posted + bindparam("b_amount"))
)
_credit_not_wallet = _credit.where(_accounts.c.kind != AccountKind.wallet.value)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# Accounts


async def region_timezone(session: AsyncSession, region_id: uuid.UUID) -> str | None:
    """The region's timezone, which dates its lots' expiry; None for no such region."""
    region = await session.get(Region, region_id)
    return region.timezone if region else None


async def find_account(
    session: AsyncSession, *, region_id: uuid.UUID, kind: AccountKind, owner_id: uuid.UUID
) -> Account | None:
    return await session.scalar(
        select(Account)
        .where(Account.region_id == region_id, Account.kind == kind, Account.owner_id == owner_id)
        .execution_options(populate_existing=True)
    )


_account_id = select(_accounts.c.id).where(
    _accounts.c.region_id == bindparam("b_region"),
    _accounts.c.kind == bindparam("b_kind"),
    _accounts.c.owner_id == bindparam("b_owner"),
)


async def find_account_id(
    session: AsyncSession, *, region_id: uuid.UUID, kind: AccountKind, owner_id: uuid.UUID
) -> uuid.UUID | None:
    account_id: uuid.UUID | None = await session.scalar(
        _account_id, {"b_region": region_id, "b_kind": kind.value, "b_owner": owner_id}
    )
    return account_id


async def insert_account(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    kind: AccountKind,
    owner_id: uuid.UUID,
    allow_negative: bool,
) -> None:
    """Create the account unless a concurrent transaction already has."""
    await session.execute(
        session_insert(session)(_accounts)
        .values(
            id=new_id(),
            region_id=region_id,
            kind=kind,
            owner_id=owner_id,
            allow_negative=allow_negative,
            posted=0,
            pending=0,
            created_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["region_id", "kind", "owner_id"])
    )


async def get_account(
    session: AsyncSession, account_id: uuid.UUID, *, region_id: uuid.UUID | None = None
) -> Account | None:
    query = select(Account).where(Account.id == account_id)
    if region_id is not None:
        query = query.where(Account.region_id == region_id)
    return await session.scalar(query.execution_options(populate_existing=True))


async def accounts_by_id(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Account]:
    rows = await session.scalars(
        select(Account).where(Account.id.in_(list(ids))).execution_options(populate_existing=True)
    )
    return {a.id: a for a in rows}


async def lock_accounts(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Account]:
    """Lock the accounts in the ledger's fixed order: wallets first, then by id."""
    rows = await session.scalars(
        select(Account)
        .where(Account.id.in_(list(ids)))
        .order_by(Account.kind != AccountKind.wallet, Account.id)
        # NO KEY UPDATE, like an UPDATE takes: rows that merely reference the account
        # (postings, holds) need not wait for it.
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return {a.id: a for a in rows}


async def debit_wallet_of(
    session: AsyncSession, *, region_id: uuid.UUID, owner_id: uuid.UUID, amount: int
) -> tuple[uuid.UUID, int] | None:
    """Debit the owner's wallet if its available balance covers `amount`: its id and
    the available balance after, or None."""
    rows = await fetch_rows(
        session, _debit_wallet, {"b_region": region_id, "b_owner": owner_id, "b_amount": amount}
    )
    return (rows[0][0], rows[0][1]) if rows else None


async def hold_on_wallet_of(
    session: AsyncSession, *, region_id: uuid.UUID, owner_id: uuid.UUID, amount: int
) -> uuid.UUID | None:
    """Add `amount` to the owner's wallet's pending if available covers it; its id, or None."""
    wallet_id: uuid.UUID | None = await session.scalar(
        _hold_on_wallet, {"b_region": region_id, "b_owner": owner_id, "b_amount": amount}
    )
    return wallet_id


async def credit(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    account_id: uuid.UUID,
    amount: int,
    wallet_allowed: bool = True,
) -> bool:
    result = await session.execute(
        _credit if wallet_allowed else _credit_not_wallet,
        {"b_id": account_id, "b_region": region_id, "b_amount": amount},
    )
    return _rowcount(result) == 1


async def debit(
    session: AsyncSession, *, region_id: uuid.UUID, account_id: uuid.UUID, amount: int
) -> bool:
    """Debit unless that would take a no-overdraft account's available below zero."""
    result = await session.execute(
        update(_accounts)
        .where(
            _accounts.c.id == account_id,
            _accounts.c.region_id == region_id,
            or_(
                _accounts.c.allow_negative.is_(True),
                _accounts.c.posted - _accounts.c.pending >= amount,
            ),
        )
        .values(posted=_accounts.c.posted - amount)
    )
    return _rowcount(result) == 1


async def change_wallet(
    session: AsyncSession, *, account_id: uuid.UUID, posted: int = 0, pending: int = 0
) -> None:
    """Change a wallet whose row this transaction already holds locked."""
    await session.execute(
        update(_accounts)
        .where(_accounts.c.id == account_id)
        .values(posted=_accounts.c.posted + posted, pending=_accounts.c.pending + pending)
    )


# Lots


# The lots a debit of :amount from the wallet draws on: its unexpired lots, oldest
# expiry first, each for what it has free (not reserved by holds), up to :amount in
# all; (lot_id, take) pairs. One rule for spends and holds, on both databases, and
# part of the spend's single write on PostgreSQL (`_WRITE_SPEND_PG`).
_DRAWS_SQL = """
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
    text(_DRAWS_SQL + " ORDER BY before")
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
    """(lot, take) of a debit of `amount` (see `_DRAWS_SQL`); they add up to less than
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


async def lock_wallet_if_free(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    """Lock a wallet for a background job, or None if a request holds it right now."""
    return await session.scalar(
        select(Account)
        .where(Account.id == account_id)
        .with_for_update(skip_locked=True, key_share=True)
        .execution_options(populate_existing=True)
    )


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


# Transactions


async def insert_transaction(
    session: AsyncSession, values: dict[str, Any], postings: list[dict[str, Any]]
) -> int:
    """Insert a transaction and its postings; returns its `seq`."""
    seq = await session.scalar(_insert_transaction, values)
    await session.execute(_insert_postings, postings)
    return int(seq)


# A spend's whole write in one round trip on PostgreSQL, once the wallet's debit holds
# its row lock: the lot draws (`_DRAWS_SQL`, read in this statement's snapshot, which
# no other writer of the wallet's lots can change while the lock is held), and, when
# they cover the amount, the transaction, its postings, the lot entries and lot
# changes, and the credit (whose account row lock it takes last, when everything else
# is written). Returns the seq (or NULL: nothing written), whether the account to
# credit was there to take it (in the region, not a wallet), and what the lots cover.
_WRITE_SPEND_PG = text(
    f"""
    WITH draws AS ({_DRAWS_SQL}
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


async def insert_lot_entries(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    if entries:
        await session.execute(_insert_lot_entries, entries)


async def insert_lot(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(_insert_lot, values)


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


# Holds


async def hold_by_id(session: AsyncSession, hold_id: uuid.UUID) -> Hold | None:
    return await session.get(Hold, hold_id)


async def resolution_of(session: AsyncSession, hold_id: uuid.UUID) -> HoldResolution | None:
    return await session.scalar(select(HoldResolution).where(HoldResolution.hold_id == hold_id))


async def reservations_of(
    session: AsyncSession, hold_id: uuid.UUID
) -> Sequence[Row[uuid.UUID, int]]:
    """(lot id, amount) the hold reserves, in the order its draws will take them."""
    result = await session.execute(
        select(HoldLot.lot_id, HoldLot.amount)
        .join(Lot, Lot.id == HoldLot.lot_id)
        .where(HoldLot.hold_id == hold_id)
        .order_by(Lot.expires_at, Lot.created_at, Lot.id)
    )
    return result.all()


async def insert_hold(
    session: AsyncSession, hold: Hold, reservations: Sequence[tuple[uuid.UUID, int]]
) -> None:
    """Write the hold and the (lot id, amount) it reserves of each lot."""
    session.add(hold)
    await session.flush()
    session.add_all(
        HoldLot(region_id=hold.region_id, hold_id=hold.id, lot_id=lot_id, amount=take)
        for lot_id, take in reservations
    )
    await session.flush()


async def insert_resolution(session: AsyncSession, resolution: HoldResolution) -> None:
    session.add(resolution)
    await session.flush()


async def due_holds(session: AsyncSession, *, now: datetime, limit: int) -> list[Hold]:
    rows = await session.scalars(
        select(Hold)
        .outerjoin(HoldResolution, HoldResolution.hold_id == Hold.id)
        .where(Hold.expires_at <= now, HoldResolution.id.is_(None))
        .order_by(Hold.expires_at, Hold.id)
        .limit(limit)
    )
    return list(rows)


# Reads behind the API


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
