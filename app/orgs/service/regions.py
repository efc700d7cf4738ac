"""A region as its staff read it and its centre admins change it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Page, PageParams
from app.identity.principals import Principal, StaffContext
from app.orgs import schemas
from app.orgs.authz import require_center_admin_of
from app.orgs.errors import RegionNotFound
from app.orgs.models import Region
from app.orgs.service.checks import after_cursor, get_region


def _region_out(region: Region) -> schemas.Region:
    return schemas.Region.model_validate(region)


async def list_regions(
    session: AsyncSession, *, principal: Principal, page: PageParams
) -> Page[schemas.Region]:
    """Only the caller's own region: no principal lists the other tenants."""
    after = after_cursor(page)
    if principal.region_id is None:
        return Page(items=[])
    region = await session.get(Region, principal.region_id)
    if region is None or (after is not None and (region.created_at, region.id) <= after):
        return Page(items=[])
    return Page(items=[_region_out(region)])


async def get_region_of(
    session: AsyncSession, *, principal: Principal, region_id: uuid.UUID
) -> schemas.Region:
    if region_id != principal.region_id:
        raise RegionNotFound()
    return _region_out(await get_region(session, region_id))


async def update_region(
    session: AsyncSession,
    *,
    staff: StaffContext,
    region_id: uuid.UUID,
    changes: schemas.RegionUpdate,
) -> schemas.Region:
    require_center_admin_of(staff, region_id)
    region = await get_region(session, region_id)
    if changes.name is not None:
        region.name = changes.name
    if changes.timezone is not None:
        region.timezone = changes.timezone
    await session.flush()
    return _region_out(region)
