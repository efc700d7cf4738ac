"""The checks other features use: a region, a unit of the caller's region, a unit in the
reach of one of the staff's roles; and the paging the lists share."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Keyset, PageParams, decode_keyset
from app.identity.principals import StaffContext
from app.orgs.errors import NotPermittedOnUnit, RegionNotFound, UnitNotFound
from app.orgs.models import ALL_ROLES, OrgUnit, Region, Role

Row = TypeVar("Row")
Item = TypeVar("Item")


async def get_region(session: AsyncSession, region_id: uuid.UUID) -> Region:
    region = await session.get(Region, region_id)
    if region is None:
        raise RegionNotFound()
    return region


async def unit_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, unit_id: uuid.UUID
) -> OrgUnit:
    """The unit, or 404 when it does not exist or belongs to another region."""
    unit = await session.get(OrgUnit, unit_id)
    if unit is None or unit.region_id != region_id:
        raise UnitNotFound()
    return unit


async def unit_for_staff(
    session: AsyncSession,
    *,
    staff: StaffContext,
    unit_id: uuid.UUID,
    roles: frozenset[Role] = ALL_ROLES,
) -> OrgUnit:
    """The unit if one of `roles` reaches it; 404 across regions, 403 outside the subtree."""
    unit = await unit_in_region(session, region_id=staff.region_id, unit_id=unit_id)
    if not staff.can(unit, roles):
        raise NotPermittedOnUnit()
    return unit


def after_cursor(page: PageParams) -> Keyset | None:
    return decode_keyset(page.cursor)
