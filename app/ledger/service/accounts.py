"""The ledger's accounts: created on first use, read as balances; and when a lot expires."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger import repository as repo
from app.ledger.errors import (
    AccountKindNotAllowed,
    AccountNotFound,
)
from app.ledger.models import (
    SYSTEM_KINDS,
    Account,
    AccountKind,
)


@dataclass(frozen=True)
class Balance:
    posted: int
    pending: int

    @property
    def available(self) -> int:
        return self.posted - self.pending


def lot_expiry(issued_at: datetime, timezone: str, *, years: int = 1) -> datetime:
    """When a lot issued at `issued_at` expires: the end of 31 December of the year
    `years` after the issue, in the region's time (the default policy: the year after)."""
    tz = ZoneInfo(timezone)
    year = issued_at.astimezone(tz).year + years + 1
    return datetime(year, 1, 1, tzinfo=tz).astimezone(UTC)


async def default_expiry(session: AsyncSession, region_id: uuid.UUID, now: datetime) -> datetime:
    timezone = await repo.region_timezone(session, region_id)
    return lot_expiry(now, timezone or "Asia/Shanghai")


# Accounts


async def account_of(
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


async def account_id_of(
    session: AsyncSession, *, region_id: uuid.UUID, kind: AccountKind, owner_id: uuid.UUID
) -> uuid.UUID:
    """The account's id, created on first use (lighter than loading the account)."""
    account_id = await repo.find_account_id(
        session, region_id=region_id, kind=kind, owner_id=owner_id
    )
    if account_id is None:
        account_id = (
            await account_of(session, region_id=region_id, kind=kind, owner_id=owner_id)
        ).id
    return account_id


async def wallet_account(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> Account:
    """The volunteer's wallet, created on first use."""
    return await account_of(
        session, region_id=region_id, kind=AccountKind.wallet, owner_id=volunteer_id
    )


async def merchant_account(
    session: AsyncSession, *, region_id: uuid.UUID, merchant_id: uuid.UUID
) -> Account:
    """The merchant's receipts account, created on first use."""
    return await account_of(
        session, region_id=region_id, kind=AccountKind.merchant, owner_id=merchant_id
    )


async def system_account(
    session: AsyncSession, *, region_id: uuid.UUID, kind: AccountKind
) -> Account:
    """The region's issuance, expired or settled account, created on first use."""
    if kind not in SYSTEM_KINDS:
        raise AccountKindNotAllowed(f"{kind} is not one of the region's own accounts")
    return await account_of(session, region_id=region_id, kind=kind, owner_id=region_id)


async def account_balance(session: AsyncSession, *, account_id: uuid.UUID) -> Balance:
    account = await repo.get_account(session, account_id)
    if account is None:
        raise AccountNotFound()
    return Balance(posted=account.posted, pending=account.pending)
