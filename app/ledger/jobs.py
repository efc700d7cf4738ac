"""The ledger's background jobs: holds that time out, lots that expire.

Each unit of work is one wallet, in its own database transaction, so a job never
holds two wallets' locks at once and never waits long behind a request.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ledger import service

BATCH = 200


async def time_out_holds(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Release holds past their timeout; returns how many."""
    async with sessions() as session:
        due = await service.holds_due(session, limit=BATCH)
    done = 0
    for hold_id in due:
        async with sessions() as session, session.begin():
            done += await service.time_out_hold(session, hold_id=hold_id)
    return done


async def expire_lots(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Expire the unspent remainder of due lots; returns how many lots expired.

    A wallet a request holds right now is skipped and picked up on a later run.
    """
    async with sessions() as session:
        wallets = await service.wallets_due_for_expiry(session, limit=BATCH)
    done = 0
    for account_id in wallets:
        async with sessions() as session, session.begin():
            done += await service.expire_lots_of_wallet(session, account_id=account_id) or 0
    return done
