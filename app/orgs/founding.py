"""Founding a region: its row, its center unit and the eight standing teams, and its center
admins made without a granter (the first, by the platform or the console).

What else a new region needs (its policies, its ledger accounts) belongs to other features;
`app.tenants` puts them together. Nothing here is reached by a region's own staff.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import new_id
from app.core.pagination import PageParams
from app.core.security import hash_password
from app.identity.errors import UsernameTaken
from app.identity.models import StaffKind, StaffUser
from app.orgs import repository
from app.orgs.errors import (
    RegionCodeTaken,
    RegionHasCenterAdmin,
    RegionNotFound,
    UnitNotFound,
)
from app.orgs.models import (
    TEAM_CATEGORY_LABELS,
    OrgUnit,
    Region,
    Role,
    StaffGrant,
    Team,
    TeamCategory,
    UnitKind,
)

DEFAULT_TIMEZONE = "Asia/Shanghai"
# The 8 standing kinds of team every center starts with; custom ones come later.
STANDING_CATEGORIES = tuple(c for c in TeamCategory if c is not TeamCategory.custom)


@dataclass(frozen=True)
class FoundedRegion:
    region: Region
    center: OrgUnit
    teams: list[Team]


async def found_region(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    timezone: str = DEFAULT_TIMEZONE,
    center_name: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> FoundedRegion:
    """A new region with its center (中心) and one team of each standing category on it;
    `RegionCodeTaken` if the code is in use."""
    if await repository.region_by_code(session, code=code) is not None:
        raise RegionCodeTaken(f"A region with the code {code!r} already exists")
    region = Region(id=new_id(), code=code, name=name, timezone=timezone)
    try:
        # A savepoint: losing a race for the code must not poison the unit of work.
        async with session.begin_nested():
            session.add(region)
            await session.flush()
    except IntegrityError as exc:
        raise RegionCodeTaken(f"A region with the code {code!r} already exists") from exc
    center_id = new_id()
    center = OrgUnit(
        id=center_id,
        region_id=region.id,
        parent_id=None,
        kind=UnitKind.center,
        name=center_name or f"{name}新时代文明实践中心",
        path=f"/{center_id}/",
        latitude=latitude,
        longitude=longitude,
        seven_haves={},
    )
    session.add(center)
    await session.flush()
    teams = [
        Team(
            region_id=region.id,
            org_unit_id=center.id,
            name=f"{TEAM_CATEGORY_LABELS[category]}志愿服务队",
            category=category,
        )
        for category in STANDING_CATEGORIES
    ]
    session.add_all(teams)
    await session.flush()
    return FoundedRegion(region=region, center=center, teams=teams)


async def region_by_code(session: AsyncSession, *, code: str | None) -> Region:
    """The region of `code`, or the first region founded when no code is given."""
    if code is None:
        region = await repository.first_region(session)
        if region is None:
            raise RegionNotFound("No region yet: create one first")
        return region
    region = await repository.region_by_code(session, code=code)
    if region is None:
        raise RegionNotFound(f"No region has the code {code!r}")
    return region


@dataclass(frozen=True)
class NewCenterAdmin:
    user: StaffUser
    center: OrgUnit
    # The password made up for the account, shown once; None when the caller chose it.
    generated_password: str | None


async def add_center_admin(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    username: str,
    display_name: str | None = None,
    password: str | None = None,
    first: bool = False,
) -> NewCenterAdmin:
    """A staff account with center_admin on the region's center, granted by nobody.

    With `first`, only while the region has no active center admin: from then on its own
    admins manage its staff (`POST /v1/staff`), and the platform has no way in.
    """
    # Locked: two first admins of one region take turns, and the second is refused.
    region = await session.get(Region, region_id, with_for_update=first)
    if region is None:
        raise RegionNotFound()
    center = await repository.root_unit(session, region_id=region_id)
    if center is None:
        raise UnitNotFound("The region has no center unit")
    if first and await repository.count_center_admins(session, region_id=region_id) > 0:
        raise RegionHasCenterAdmin()
    if await repository.username_exists(session, username=username):
        raise UsernameTaken()
    generated = None
    if password is None:
        password = generated = secrets.token_urlsafe(12)
    user = StaffUser(
        region_id=region_id,
        kind=StaffKind.staff,
        username=username,
        display_name=display_name or username,
        password_hash=await hash_password(password),
        is_active=True,
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError as exc:
        raise UsernameTaken() from exc
    grant = StaffGrant(
        region_id=region_id, staff_id=user.id, org_unit_id=center.id, role=Role.center_admin
    )
    session.add(grant)
    await session.flush()
    return NewCenterAdmin(user=user, center=center, generated_password=generated)


async def regions_page(
    session: AsyncSession, *, page: PageParams
) -> list[tuple[Region, uuid.UUID | None]]:
    """Every region, with its center's id: the platform's list, never a region's."""
    return await repository.regions_with_centers(session, page=page)
