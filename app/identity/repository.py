"""Queries of `app.identity`: staff accounts, refresh tokens, revoked access tokens,
login throttles, the rows a login reads, and the volunteer a first WeChat login creates."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, bindparam, delete, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.db import rowcount, session_insert
from app.identity.models import (
    LoginThrottle,
    PlatformAdmin,
    RefreshToken,
    RevokedAccessToken,
    StaffUser,
    SubjectType,
)
from app.orgs.models import Region, StaffGrant
from app.volunteers.models import Volunteer

Account = TypeVar("Account", StaffUser, PlatformAdmin)


async def account_by_username(
    session: AsyncSession, model: type[Account], username: str
) -> Account | None:
    """A staff account or a platform admin by login name (each table its own namespace)."""
    return await session.scalar(select(model).where(model.username == username))


async def staff_roles(session: AsyncSession, user: StaffUser) -> list[str]:
    rows = await session.scalars(
        select(StaffGrant.role)
        .where(
            StaffGrant.staff_id == user.id,
            StaffGrant.region_id == user.region_id,
            StaffGrant.revoked_at.is_(None),
        )
        .distinct()
    )
    return sorted(str(role) for role in rows)


async def region_by_code(session: AsyncSession, code: str) -> Region | None:
    return await session.scalar(select(Region).where(Region.code == code))


async def some_regions(session: AsyncSession, *, limit: int) -> list[Region]:
    return list(await session.scalars(select(Region).order_by(Region.code).limit(limit)))


def new_volunteer_no(region_code: str) -> str:
    """A volunteer number: region prefix, year, 8 random digits (unique by constraint)."""
    year = clock.now().year
    return f"{region_code[:4].upper()}{year}{secrets.randbelow(10**8):08d}"


async def volunteer_by_openid(session: AsyncSession, openid: str) -> Volunteer | None:
    return await session.scalar(select(Volunteer).where(Volunteer.openid == openid))


async def create_volunteer(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    region_code: str,
    openid: str,
    unionid: str | None = None,
    name: str | None = None,
) -> Volunteer:
    volunteer = Volunteer(
        region_id=region_id,
        openid=openid,
        unionid=unionid,
        volunteer_no=new_volunteer_no(region_code),
        name=name,
        skills=[],
        service_categories=[],
    )
    session.add(volunteer)
    await session.flush()
    return volunteer


async def volunteer_by_unionid(session: AsyncSession, unionid: str) -> Volunteer | None:
    return await session.scalar(select(Volunteer).where(Volunteer.unionid == unionid))


async def refresh_token_for_update(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    """The stored token, row-locked: of two concurrent uses, the second sees the first's."""
    return await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    )


async def revoke_family(
    session: AsyncSession, *, family_id: uuid.UUID, region_id: uuid.UUID, at: datetime
) -> None:
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.family_id == family_id,
            RefreshToken.region_id == region_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=at)
        .execution_options(synchronize_session="fetch")
    )


def _of_subject(
    subject_type: SubjectType, subject_id: uuid.UUID, region_id: uuid.UUID
) -> ColumnElement[bool]:
    return (
        (RefreshToken.subject_id == subject_id)
        & (RefreshToken.subject_type == subject_type)
        & (RefreshToken.region_id == region_id)
    )


async def revoke_subject(
    session: AsyncSession,
    *,
    subject_type: SubjectType,
    subject_id: uuid.UUID,
    region_id: uuid.UUID,
    at: datetime,
) -> None:
    """Revoke every refresh token of one account, whichever login it belongs to."""
    await session.execute(
        update(RefreshToken)
        .where(_of_subject(subject_type, subject_id, region_id), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session="fetch")
    )


LiveAccessToken = tuple[str, datetime]  # its jti, and when it expires


async def live_access_tokens_of_family(
    session: AsyncSession, *, family_id: uuid.UUID, region_id: uuid.UUID, after: datetime
) -> list[LiveAccessToken]:
    """The access tokens issued with the family's refresh tokens that expire after `after`."""
    which = (RefreshToken.family_id == family_id) & (RefreshToken.region_id == region_id)
    return await _live_access_tokens(session, which, after=after)


async def live_access_tokens_of_subject(
    session: AsyncSession,
    *,
    subject_type: SubjectType,
    subject_id: uuid.UUID,
    region_id: uuid.UUID,
    after: datetime,
) -> list[LiveAccessToken]:
    which = _of_subject(subject_type, subject_id, region_id)
    return await _live_access_tokens(session, which, after=after)


async def _live_access_tokens(
    session: AsyncSession, which: ColumnElement[bool], *, after: datetime
) -> list[LiveAccessToken]:
    rows = await session.execute(
        select(RefreshToken.access_jti, RefreshToken.access_expires_at).where(
            which, RefreshToken.access_jti.is_not(None), RefreshToken.access_expires_at > after
        )
    )
    return [(jti, until) for jti, until in rows if jti is not None and until is not None]


async def deny_access_tokens(
    session: AsyncSession, *, region_id: uuid.UUID, tokens: Sequence[LiveAccessToken]
) -> None:
    if not tokens:
        return
    insert = session_insert(session)
    await session.execute(
        insert(RevokedAccessToken)
        .values(
            [{"jti": jti, "region_id": region_id, "expires_at": until} for jti, until in tokens]
        )
        .on_conflict_do_nothing(index_elements=["jti"])
    )


# Asked on every authenticated request: a module constant, so that `fetch_rows`
# compiles it once. By `jti` alone: it is random, and the check runs before the
# token's region is trusted.
DENIED = select(literal(1)).where(RevokedAccessToken.jti == bindparam("jti"))


async def purge_revoked_access_tokens(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(
        delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < before)
    )
    return rowcount(result)


# --- login throttles ------------------------------------------------------------------


async def login_throttle_for_update(
    session: AsyncSession, username_key: str, address_key: str
) -> LoginThrottle:
    """The pair's row, made if missing and row-locked: concurrent attempts of one pair
    are counted one after another."""
    insert = session_insert(session)
    await session.execute(
        insert(LoginThrottle)
        .values(
            username_key=username_key,
            address_key=address_key,
            failures=0,
            last_failure_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["username_key", "address_key"])
    )
    row = await session.scalar(
        select(LoginThrottle)
        .where(LoginThrottle.username_key == username_key, LoginThrottle.address_key == address_key)
        .with_for_update()
    )
    if row is None:
        raise RuntimeError("the login throttle row vanished inside its own transaction")
    return row


async def delete_login_throttle(session: AsyncSession, username_key: str, address_key: str) -> None:
    await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.username_key == username_key, LoginThrottle.address_key == address_key
        )
    )


async def purge_login_throttles(session: AsyncSession, *, quiet_since: datetime) -> int:
    """Delete the pairs quiet since before `quiet_since` that no longer have to wait."""
    result = await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < quiet_since,
            LoginThrottle.blocked_until.is_(None) | (LoginThrottle.blocked_until < clock.now()),
        )
    )
    return rowcount(result)
