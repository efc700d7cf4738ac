"""What the volunteer sees of their wallet: balance, lots, next expiry and history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import (
    Page,
    PageParams,
    decode_cursor,
    encode_cursor,
    parse_cursor_int,
)
from app.ledger import repository as repo
from app.ledger import schemas
from app.ledger.models import (
    AccountKind,
)
from app.ledger.service.accounts import Balance
from app.volunteers.models import Volunteer


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
