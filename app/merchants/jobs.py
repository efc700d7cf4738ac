"""Background work of `app.merchants`: reservations past their timeout, and nonces and
redemption codes past any use."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import clock
from app.merchants import reservations
from app.merchants.models import RedemptionCode, TerminalNonce

BATCH = 200

# A code presented within a day of its expiry is still told apart as used, retired or
# expired; after that it is unknown, which refuses it all the same.
CODE_RETENTION = timedelta(days=1)


async def purge_expired(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Delete nonces that no fresh signature can reuse, and codes long expired."""
    now = clock.now()
    async with sessions() as session, session.begin():
        nonces = await session.execute(delete(TerminalNonce).where(TerminalNonce.expires_at < now))
        codes = await session.execute(
            delete(RedemptionCode).where(RedemptionCode.expires_at < now - CODE_RETENTION)
        )
    return int(getattr(nonces, "rowcount", 0) or 0) + int(getattr(codes, "rowcount", 0) or 0)


async def expire_reservations(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Release reservations past their timeout, each in its own transaction."""
    async with sessions() as session:
        due = await reservations.reservations_due(session, limit=BATCH)
    done = 0
    for reservation_id in due:
        async with sessions() as session, session.begin():
            done += await reservations.expire(session, reservation_id=reservation_id)
    return done
