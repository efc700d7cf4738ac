"""SQL of terminals: one terminal, a merchant's terminals, and what a signed request
reads and writes: the terminal's row with its merchant and region, and its nonce spent
(on PostgreSQL both in one round trip)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String, Uuid, bindparam, delete, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import UTCDateTime, rowcount
from app.core.pagination import PageParams, keyset_window
from app.merchants.models import Merchant, Terminal, TerminalNonce
from app.orgs.models import Region


async def terminal(session: AsyncSession, terminal_id: uuid.UUID) -> Terminal | None:
    return await session.get(Terminal, terminal_id)


async def terminals_of(
    session: AsyncSession, *, merchant_id: uuid.UUID, page: PageParams
) -> list[Terminal]:
    """A page of the merchant's terminals, oldest first, revoked ones included."""
    query = keyset_window(
        select(Terminal).where(Terminal.merchant_id == merchant_id),
        page,
        time_column=Terminal.created_at,
        id_column=Terminal.id,
    )
    return list(await session.scalars(query))


# A signed request

_TERMINAL = (
    select(
        Terminal.public_key,
        Terminal.status,
        Terminal.region_id,
        Terminal.merchant_id,
        Merchant.name,
        Merchant.status,
        Merchant.ledger_account_id,
        Region.timezone,
    )
    .join(Merchant, Merchant.id == Terminal.merchant_id)
    .join(Region, Region.id == Terminal.region_id)
    .where(Terminal.id == bindparam("terminal_id", type_=Uuid()))
)

# PostgreSQL: the terminal's row and the nonce's insert in one round trip. The nonce is
# written before the signature is checked, but every refusal of `terminal_auth` rolls
# the unit of work back, so only a request that passes all the checks keeps its nonce
# spent.
_TERMINAL_AND_NONCE = text(
    "WITH t AS ("
    " SELECT terminals.public_key, terminals.status, terminals.region_id,"
    " terminals.merchant_id, merchants.name AS merchant_name,"
    " merchants.status AS merchant_status, merchants.ledger_account_id, regions.timezone"
    " FROM terminals JOIN merchants ON merchants.id = terminals.merchant_id"
    " JOIN regions ON regions.id = terminals.region_id"
    " WHERE terminals.id = :terminal_id),"
    " spent AS ("
    " INSERT INTO terminal_nonces (terminal_id, nonce, region_id, expires_at)"
    " SELECT :terminal_id, :nonce, t.region_id, :expires_at FROM t"
    " ON CONFLICT (terminal_id, nonce) DO NOTHING RETURNING nonce)"
    " SELECT t.*, EXISTS (SELECT 1 FROM spent) AS nonce_spent FROM t"
).bindparams(
    bindparam("terminal_id", type_=Uuid()),
    bindparam("nonce", type_=String()),
    bindparam("expires_at", type_=UTCDateTime()),
)


async def spend_nonce(
    session: AsyncSession,
    *,
    terminal_id: uuid.UUID,
    region_id: uuid.UUID,
    nonce: str,
    expires_at: datetime,
) -> bool:
    """Spend the terminal's nonce (one row per nonce); False if it was spent before."""
    result = await session.execute(
        sqlite_insert(TerminalNonce)
        .values(
            terminal_id=terminal_id,
            nonce=nonce,
            region_id=region_id,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=["terminal_id", "nonce"])
        .returning(TerminalNonce.nonce)
    )
    return result.first() is not None


async def terminal_spending_nonce(
    session: AsyncSession, *, terminal_id: uuid.UUID, nonce: str, expires_at: datetime
) -> tuple[Any, bool | None] | None:
    """The terminal's row and whether this request spent the nonce (None: not tried yet),
    or None when no terminal has this id."""
    if session.get_bind().dialect.name == "postgresql":
        row = (
            await session.execute(
                _TERMINAL_AND_NONCE,
                {
                    "terminal_id": terminal_id,
                    "nonce": nonce,
                    "expires_at": expires_at,
                },
            )
        ).one_or_none()
        return None if row is None else (row, bool(row.nonce_spent))
    found: Any = (await session.execute(_TERMINAL, {"terminal_id": terminal_id})).one_or_none()
    if found is None:
        return None
    # SQLite runs one writer at a time: the nonce can wait until the signature verifies.
    return found, None


async def purge_nonces(session: AsyncSession, *, expired_before: datetime) -> int:
    """Delete the nonces that expired before `expired_before`; how many."""
    result = await session.execute(
        delete(TerminalNonce).where(TerminalNonce.expires_at < expired_before)
    )
    return rowcount(result)
