"""SQL of terminal registration: one terminal, a merchant's terminals."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, keyset_window
from app.merchants.models import Terminal


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
