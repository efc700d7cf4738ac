"""Housekeeping of `app.identity`: deny-list entries past their token's expiry, and
login throttles long quiet."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import clock
from app.identity import repository
from app.identity.throttle import FORGET_AFTER


async def purge_expired(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Delete what can no longer refuse anything: a denied token that has expired is
    refused as expired, and a throttle quiet for `FORGET_AFTER` starts afresh anyway."""
    now = clock.now()
    async with sessions() as session, session.begin():
        denied = await repository.purge_revoked_access_tokens(session, before=now)
        throttles = await repository.purge_login_throttles(session, quiet_since=now - FORGET_AFTER)
    return denied + throttles
