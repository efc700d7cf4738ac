"""Housekeeping of `app.clients`: spent client assertions past their expiry."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clients import repository
from app.core import clock


async def purge_spent_assertions(sessions: async_sessionmaker[AsyncSession]) -> int:
    """An expired assertion is refused for its `exp` alone: its `jti` need not be kept."""
    async with sessions() as session, session.begin():
        return await repository.purge_spent_assertions(session, before=clock.now())
