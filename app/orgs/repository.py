"""Queries of `app.orgs`. Every one is filtered by region; lists page by (created_at, id)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core import clock
from app.core.pagination import Keyset, PageParams, after_keyset, keyset_window
from app.identity.models import StaffKind, StaffUser
from app.orgs.models import OrgUnit, Region, Role, StaffGrant, Team, TeamCategory, UnitKind

T = TypeVar("T")


def _page(
    stmt: Select[T],
    *,
    created_at: InstrumentedAttribute[datetime],
    id_: InstrumentedAttribute[uuid.UUID],
    after: Keyset | None,
    limit: int,
) -> Select[T]:
    if after is not None:
        stmt = stmt.where(after_keyset(created_at, id_, after))
    # One row more than asked tells whether another page follows.
    return stmt.order_by(created_at, id_).limit(limit + 1)


async def root_unit(session: AsyncSession, *, region_id: uuid.UUID) -> OrgUnit | None:
    return await session.scalar(
        select(OrgUnit)
        .where(OrgUnit.region_id == region_id, OrgUnit.parent_id.is_(None))
        .order_by(OrgUnit.created_at)
        .limit(1)
    )


async def units_page(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    kind: UnitKind | None,
    after: Keyset | None,
    limit: int,
) -> Sequence[OrgUnit]:
    stmt = select(OrgUnit).where(OrgUnit.region_id == region_id)
    if parent_id is not None:
        stmt = stmt.where(OrgUnit.parent_id == parent_id)
    if kind is not None:
        stmt = stmt.where(OrgUnit.kind == kind)
    stmt = _page(stmt, created_at=OrgUnit.created_at, id_=OrgUnit.id, after=after, limit=limit)
    return (await session.scalars(stmt)).all()


async def team_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, team_id: uuid.UUID
) -> Team | None:
    return await session.scalar(select(Team).where(Team.id == team_id, Team.region_id == region_id))


async def teams_page(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    org_unit_id: uuid.UUID | None,
    category: TeamCategory | None,
    after: Keyset | None,
    limit: int,
) -> Sequence[Team]:
    stmt = select(Team).where(Team.region_id == region_id)
    if org_unit_id is not None:
        stmt = stmt.where(Team.org_unit_id == org_unit_id)
    if category is not None:
        stmt = stmt.where(Team.category == category)
    stmt = _page(stmt, created_at=Team.created_at, id_=Team.id, after=after, limit=limit)
    return (await session.scalars(stmt)).all()


async def staff_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, staff_id: uuid.UUID
) -> StaffUser | None:
    return await session.scalar(
        select(StaffUser).where(
            StaffUser.id == staff_id,
            StaffUser.region_id == region_id,
            StaffUser.kind == StaffKind.staff,
        )
    )


async def staff_page(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    within: Sequence[str] | None,
    after: Keyset | None,
    limit: int,
) -> Sequence[StaffUser]:
    """Staff of the region; with `within`, only those holding a grant under one of the paths."""
    stmt = select(StaffUser).where(
        StaffUser.region_id == region_id, StaffUser.kind == StaffKind.staff
    )
    if within is not None:
        stmt = stmt.where(
            exists()
            .where(
                StaffGrant.staff_id == StaffUser.id,
                StaffGrant.region_id == region_id,
                StaffGrant.revoked_at.is_(None),
                OrgUnit.id == StaffGrant.org_unit_id,
                or_(*(OrgUnit.path.startswith(p, autoescape=True) for p in within)),
            )
            .correlate(StaffUser)
        )
    stmt = _page(stmt, created_at=StaffUser.created_at, id_=StaffUser.id, after=after, limit=limit)
    return (await session.scalars(stmt)).all()


async def grants_of(
    session: AsyncSession, *, region_id: uuid.UUID, staff_ids: Sequence[uuid.UUID]
) -> list[tuple[StaffGrant, OrgUnit]]:
    """The live grants of the accounts, with their units; revoked ones are history."""
    if not staff_ids:
        return []
    rows = await session.execute(
        select(StaffGrant, OrgUnit)
        .join(OrgUnit, OrgUnit.id == StaffGrant.org_unit_id)
        .where(
            StaffGrant.region_id == region_id,
            StaffGrant.staff_id.in_(staff_ids),
            StaffGrant.revoked_at.is_(None),
        )
        .order_by(StaffGrant.created_at, StaffGrant.id)
    )
    return [(grant, unit) for grant, unit in rows.all()]


async def revoke_grant(
    session: AsyncSession, *, grant_id: uuid.UUID, by: uuid.UUID, reason: str
) -> StaffGrant | None:
    """Mark the grant revoked, unless it already is (then None): of two revocations at
    once, the second finds nothing left to revoke."""
    now = clock.now()
    return await session.scalar(
        update(StaffGrant)
        .where(StaffGrant.id == grant_id, StaffGrant.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=by, revoked_reason=reason, updated_at=now)
        .returning(StaffGrant)
        .execution_options(populate_existing=True)
    )


async def grant_exists(
    session: AsyncSession, *, staff_id: uuid.UUID, org_unit_id: uuid.UUID, role: Role
) -> bool:
    found = await session.scalar(
        select(StaffGrant.id).where(
            StaffGrant.staff_id == staff_id,
            StaffGrant.org_unit_id == org_unit_id,
            StaffGrant.role == role,
            StaffGrant.revoked_at.is_(None),
        )
    )
    return found is not None


async def username_exists(session: AsyncSession, *, username: str) -> bool:
    found = await session.scalar(select(StaffUser.id).where(StaffUser.username == username))
    return found is not None


async def count_center_admins(session: AsyncSession, *, region_id: uuid.UUID) -> int:
    """Active accounts holding center_admin in the region."""
    count = await session.scalar(
        select(func.count(func.distinct(StaffGrant.staff_id)))
        .join(StaffUser, StaffUser.id == StaffGrant.staff_id)
        .where(
            StaffGrant.region_id == region_id,
            StaffGrant.role == Role.center_admin,
            StaffGrant.revoked_at.is_(None),
            StaffUser.is_active.is_(True),
        )
    )
    return int(count or 0)


# Founding regions, and the platform's list of them (not region-scoped: the platform's)


async def region_by_code(session: AsyncSession, *, code: str) -> Region | None:
    return await session.scalar(select(Region).where(Region.code == code))


async def first_region(session: AsyncSession) -> Region | None:
    return await session.scalar(select(Region).order_by(Region.created_at, Region.id).limit(1))


async def regions_with_centers(
    session: AsyncSession, *, page: PageParams
) -> list[tuple[Region, uuid.UUID | None]]:
    """Every region with its center unit's id, a page in (created_at, id) order."""
    stmt = select(Region, OrgUnit.id).outerjoin(
        OrgUnit, (OrgUnit.region_id == Region.id) & OrgUnit.parent_id.is_(None)
    )
    window = keyset_window(stmt, page, time_column=Region.created_at, id_column=Region.id)
    return [(region, center_id) for region, center_id in (await session.execute(window)).all()]
