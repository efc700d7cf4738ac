"""Queries of `app.identity`: staff accounts, refresh tokens, and the rows a login reads."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.models import RefreshToken, StaffUser
from app.orgs.models import Region, StaffGrant
from app.volunteers.models import Volunteer


async def staff_by_username_for_update(session: AsyncSession, username: str) -> StaffUser | None:
    """The account, row-locked so that concurrent guesses are counted one after another."""
    return await session.scalar(
        select(StaffUser).where(StaffUser.username == username).with_for_update()
    )


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
