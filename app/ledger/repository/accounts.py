"""Accounts: found or created, locked in the ledger's order, and their balances changed.

Balance changes are single conditional UPDATEs (`… WHERE posted - pending >= :amount`):
the check and the change are one atomic statement, and the row lock it takes is held
until commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import cast

from sqlalchemy import (
    Table,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.db import fetch_rows, new_id, rowcount, session_insert
from app.ledger.models import (
    Account,
    AccountKind,
)
from app.orgs.models import Region

_accounts = cast(Table, Account.__table__)


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
    return rowcount(result) == 1


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
    return rowcount(result) == 1


async def change_wallet(
    session: AsyncSession, *, account_id: uuid.UUID, posted: int = 0, pending: int = 0
) -> None:
    """Change a wallet whose row this transaction already holds locked."""
    await session.execute(
        update(_accounts)
        .where(_accounts.c.id == account_id)
        .values(posted=_accounts.c.posted + posted, pending=_accounts.c.pending + pending)
    )


async def lock_wallet_if_free(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    """Lock a wallet for a background job, or None if a request holds it right now."""
    return await session.scalar(
        select(Account)
        .where(Account.id == account_id)
        .with_for_update(skip_locked=True, key_share=True)
        .execution_options(populate_existing=True)
    )
