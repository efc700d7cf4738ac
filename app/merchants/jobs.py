"""Background work of `app.merchants`: reservations past their timeout, and nonces and
redemption codes past any use."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import clock
from app.merchants import repository, reservations

BATCH = 200

# A code presented within a day of its expiry is still told apart as used, retired or
# expired; after that it is unknown, which refuses it all the same.
CODE_RETENTION = timedelta(days=1)


async def purge_expired(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Delete nonces that no fresh signature can reuse, and codes long expired."""
    now = clock.now()
    async with sessions() as session, session.begin():
        nonces = await repository.purge_nonces(session, expired_before=now)
        codes = await repository.purge_codes(session, expired_before=now - CODE_RETENTION)
    return nonces + codes


async def expire_reservations(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Release reservations past their timeout, each in its own transaction."""
    async with sessions() as session:
        due = await reservations.reservations_due(session, limit=BATCH)
    done = 0
    for reservation_id in due:
        async with sessions() as session, session.begin():
            done += await reservations.expire(session, reservation_id=reservation_id)
    return done
