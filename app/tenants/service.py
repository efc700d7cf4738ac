"""Tenants: a new region with everything it needs to run, and its first center admin.

A region starts with its center unit and the eight standing teams (`orgs.founding`), its
check-in and reward policies at their defaults (the activity policy with the key of its
volunteers' personal codes), and its ledger's own accounts (issuance, expired, settled).
Its merchant policy and star thresholds are the defaults for as long as it sets none.
Used by the platform's routes, `python -m app create-region` and the demo seed alike.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.core.pagination import Page, PageParams, keyset_page
from app.identity.models import PlatformAdmin
from app.ledger import service as ledger
from app.ledger.models import SYSTEM_KINDS
from app.orgs import founding
from app.orgs.founding import DEFAULT_TIMEZONE, FoundedRegion, NewCenterAdmin
from app.orgs.models import Region
from app.rewards import service as rewards
from app.tenants import schemas

log = logging.getLogger("liangpiao.tenants")


async def create_region(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    timezone: str = DEFAULT_TIMEZONE,
    center_name: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> FoundedRegion:
    """Found the region (`RegionCodeTaken` if its code is in use) and open its policies
    and accounts, in the caller's unit of work."""
    founded = await founding.found_region(
        session,
        code=code,
        name=name,
        timezone=timezone,
        center_name=center_name,
        latitude=latitude,
        longitude=longitude,
    )
    region_id = founded.region.id
    await activities.open_policy(session, region_id=region_id)
    await rewards.open_policy(session, region_id=region_id)
    for kind in sorted(SYSTEM_KINDS):
        await ledger.system_account(session, region_id=region_id, kind=kind)
    return founded


async def create_center_admin(
    session: AsyncSession,
    *,
    region_code: str | None,
    username: str,
    password: str | None,
) -> NewCenterAdmin:
    """A center admin of the region of `region_code` (the first region if None), from the
    console: whoever runs it holds the database already."""
    region = await founding.region_by_code(session, code=region_code)
    return await founding.add_center_admin(
        session, region_id=region.id, username=username, password=password
    )


def _region_out(region: Region, center_id: uuid.UUID | None) -> schemas.PlatformRegion:
    return schemas.PlatformRegion(
        id=region.id,
        code=region.code,
        name=region.name,
        timezone=region.timezone,
        center_unit_id=center_id,
        created_at=region.created_at,
        updated_at=region.updated_at,
    )


# The platform admin's routes


async def create_region_for(
    session: AsyncSession, *, admin: PlatformAdmin, data: schemas.RegionCreate
) -> schemas.PlatformRegion:
    founded = await create_region(session, code=data.code, name=data.name, timezone=data.timezone)
    log.info(
        "region created by a platform admin",
        extra={
            "region_id": str(founded.region.id),
            "region_code": founded.region.code,
            "platform_admin_id": str(admin.id),
        },
    )
    return _region_out(founded.region, founded.center.id)


async def list_regions(session: AsyncSession, *, page: PageParams) -> Page[schemas.PlatformRegion]:
    rows = await founding.regions_page(session, page=page)
    return keyset_page(
        rows,
        page,
        key=lambda row: (row[0].created_at, row[0].id),
        out=lambda row: _region_out(row[0], row[1]),
    )


async def create_first_admin(
    session: AsyncSession,
    *,
    admin: PlatformAdmin,
    region_id: uuid.UUID,
    data: schemas.CenterAdminCreate,
) -> schemas.CenterAdminCreated:
    """The region's first center admin; once it has one, `RegionHasCenterAdmin`."""
    made = await founding.add_center_admin(
        session,
        region_id=region_id,
        username=data.username,
        display_name=data.display_name,
        password=data.password.get_secret_value() if data.password is not None else None,
        first=True,
    )
    log.info(
        "first center admin created by a platform admin",
        extra={
            "region_id": str(region_id),
            "staff_id": str(made.user.id),
            "platform_admin_id": str(admin.id),
        },
    )
    return schemas.CenterAdminCreated(
        staff_id=made.user.id,
        region_id=region_id,
        center_unit_id=made.center.id,
        username=made.user.username,
        display_name=made.user.display_name,
        password=made.generated_password,
    )
