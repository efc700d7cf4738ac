"""Ending logins at once: revoked refresh tokens, and the access-token deny-list.

Ending a login (a logout, a reused refresh token) or every login of an account (a
merchant staff account disabled or given a new password) revokes its refresh
tokens and denies the access tokens issued with them, by `jti`, until each would
have expired anyway; a job sweeps the entries after that. Every authenticated
request asks the list, so the check is one primary-key lookup. A process remembers
the tokens it found denied (a denial never ends early), never those it found
allowed: another replica may deny one a moment later.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.db import Database, fetch_rows
from app.identity import repository
from app.identity.models import StaffUser, SubjectType

DENIED_CACHE_SIZE = 10_000


class DeniedTokens:
    """This process's memory of denied `jti`s: bounded, and emptied when full."""

    def __init__(self) -> None:
        self._jtis: set[str] = set()

    def __contains__(self, jti: str) -> bool:
        return jti in self._jtis

    def add(self, jti: str) -> None:
        if len(self._jtis) >= DENIED_CACHE_SIZE:
            self._jtis.clear()
        self._jtis.add(jti)


async def is_denied(session: AsyncSession, *, db: Database, seen: DeniedTokens, jti: str) -> bool:
    if jti in seen:
        return True
    params = {"jti": jti}
    if db.dialect == "postgresql" or session.in_transaction():
        rows = await fetch_rows(session, repository.DENIED, params)
    else:
        # SQLite opens every transaction as BEGIN IMMEDIATE, the database's one writer.
        # Begun here, the request's transaction would hold every other write through
        # whatever slow work its route does before its first statement (a WeChat call);
        # a transaction of its own holds the lock for one indexed read.
        async with db.sessions() as own, own.begin():
            rows = await fetch_rows(own, repository.DENIED, params)
    if rows:
        seen.add(jti)
        return True
    return False


async def end_login(
    session: AsyncSession, *, family_id: uuid.UUID, region_id: uuid.UUID, at: datetime
) -> None:
    """Revoke a login's refresh tokens and deny its live access tokens."""
    live = await repository.live_access_tokens_of_family(
        session, family_id=family_id, region_id=region_id, after=at
    )
    await repository.deny_access_tokens(session, region_id=region_id, tokens=live)
    await repository.revoke_family(session, family_id=family_id, region_id=region_id, at=at)


async def end_every_login(
    session: AsyncSession,
    *,
    subject_type: SubjectType,
    subject_id: uuid.UUID,
    region_id: uuid.UUID,
    at: datetime,
) -> None:
    """Revoke every refresh token of an account and deny its live access tokens."""
    live = await repository.live_access_tokens_of_subject(
        session, subject_type=subject_type, subject_id=subject_id, region_id=region_id, after=at
    )
    await repository.deny_access_tokens(session, region_id=region_id, tokens=live)
    await repository.revoke_subject(
        session, subject_type=subject_type, subject_id=subject_id, region_id=region_id, at=at
    )


async def end_staff_logins(session: AsyncSession, *, user: StaffUser) -> None:
    """End every login of a staff account at once (disabled, removed, or given a new
    password): what orgs and merchants call when they change an account."""
    await end_every_login(
        session,
        subject_type=SubjectType.staff,
        subject_id=user.id,
        region_id=user.region_id,
        at=clock.now(),
    )


async def deny_access_token(
    session: AsyncSession, *, jti: str, region_id: uuid.UUID, until: datetime
) -> None:
    """Deny one access token by its `jti` until it would have expired (RFC 7009)."""
    await repository.deny_access_tokens(session, region_id=region_id, tokens=[(jti, until)])
