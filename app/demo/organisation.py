"""The demo region's standing parts: 吴江区 (founded as any region is, by `app.tenants`:
its centre, the eight standing teams, its policies and accounts) with its institutes,
stations, staff and volunteers, made in one transaction.

`seed_organisation` is idempotent: run twice, it finds the region and changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.demo import cast
from app.demo.openids import openid_for
from app.identity.principals import load_staff
from app.identity.repository import create_volunteer
from app.orgs import schemas as org_schemas
from app.orgs import service as orgs
from app.orgs.founding import add_center_admin
from app.orgs.models import Region, UnitKind
from app.tenants.service import create_region


async def find_region(session: AsyncSession) -> Region | None:
    return await session.scalar(select(Region).where(Region.code == cast.REGION_CODE))


async def seed_organisation(
    session: AsyncSession,
    *,
    admin_password: str | None,
    passwords: Mapping[str, str] | None = None,
) -> tuple[Region, bool]:
    """The region and whether this call created it. The centre admin `admin` creates the
    other staff accounts (`cast.STAFF`), each with its password from `passwords` (a
    random one if it has none)."""
    existing = await find_region(session)
    if existing is not None:
        return existing, False
    founded = await create_region(
        session,
        code=cast.REGION_CODE,
        name=cast.REGION_NAME,
        timezone="Asia/Shanghai",
        center_name=cast.CENTER_NAME,
        latitude=31.1380,
        longitude=120.6450,
    )
    region, center = founded.region, founded.center
    made = await add_center_admin(
        session, region_id=region.id, username="admin", password=admin_password
    )
    admin = await load_staff(session, made.user)
    # The units are made as a centre admin makes them through the API.
    unit_ids = {center.name: center.id}
    for name, lat, lng, station_names in cast.INSTITUTES:
        institute = await orgs.create_unit(
            session,
            staff=admin,
            data=org_schemas.OrgUnitCreate(
                parent_id=center.id,
                kind=UnitKind.institute,
                name=name,
                latitude=lat,
                longitude=lng,
            ),
        )
        unit_ids[name] = institute.id
        for i, station_name in enumerate(station_names):
            station = await orgs.create_unit(
                session,
                staff=admin,
                data=org_schemas.OrgUnitCreate(
                    parent_id=institute.id,
                    kind=UnitKind.station,
                    name=station_name,
                    latitude=lat + 0.01 * (i + 1),
                    longitude=lng + 0.01 * (i + 1),
                ),
            )
            unit_ids[station_name] = station.id
    for spec in cast.STAFF:
        unit_id = unit_ids[spec.unit] if spec.unit else center.id
        await orgs.create_staff(
            session,
            staff=admin,
            data=org_schemas.StaffCreate(
                username=spec.username,
                display_name=spec.display_name,
                password=SecretStr(
                    (passwords or {}).get(spec.username) or secrets.token_urlsafe(12)
                ),
                grants=[org_schemas.GrantCreate(org_unit_id=unit_id, role=spec.role)],
            ),
        )
    for code, name in cast.VOLUNTEERS:
        await create_volunteer(
            session,
            region_id=region.id,
            region_code=region.code,
            openid=openid_for(code),
            name=name,
        )
    await session.flush()
    return region, True
