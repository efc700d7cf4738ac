"""The demo region's standing parts: 吴江区 with its centre, institutes, stations, teams,
staff and volunteers, made in one transaction.

`seed_organisation` is idempotent: run twice, it finds the region and changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import hash_password
from app.demo import cast
from app.identity.models import StaffKind, StaffUser
from app.identity.principals import load_staff
from app.identity.repository import create_volunteer
from app.identity.wechat_fake import openid_for
from app.orgs import schemas as org_schemas
from app.orgs import service as orgs
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


async def _add_unit(
    session: AsyncSession,
    *,
    region: Region,
    parent: OrgUnit | None,
    kind: UnitKind,
    name: str,
    latitude: float,
    longitude: float,
) -> OrgUnit:
    unit = OrgUnit(
        region_id=region.id,
        parent_id=parent.id if parent else None,
        kind=kind,
        name=name,
        path="",
        latitude=latitude,
        longitude=longitude,
        seven_haves={},
    )
    session.add(unit)
    await session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    await session.flush()
    return unit


async def create_center_admin(session: AsyncSession, *, username: str, password: str | None) -> str:
    region = await session.scalar(select(Region).order_by(Region.created_at).limit(1))
    if region is None:
        raise RuntimeError("no region yet: run `python -m app seed-demo` first")
    center = await session.scalar(
        select(OrgUnit).where(OrgUnit.region_id == region.id, OrgUnit.parent_id.is_(None))
    )
    if center is None:
        raise RuntimeError("the region has no center unit")
    password = password or secrets.token_urlsafe(12)
    user = StaffUser(
        region_id=region.id,
        kind=StaffKind.staff,
        username=username,
        display_name=username,
        password_hash=await hash_password(password),
    )
    session.add(user)
    await session.flush()
    session.add(
        StaffGrant(
            region_id=region.id, staff_id=user.id, org_unit_id=center.id, role=Role.center_admin
        )
    )
    await session.flush()
    return password


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
    region = Region(code=cast.REGION_CODE, name=cast.REGION_NAME, timezone="Asia/Shanghai")
    session.add(region)
    await session.flush()
    center = await _add_unit(
        session,
        region=region,
        parent=None,
        kind=UnitKind.center,
        name=cast.CENTER_NAME,
        latitude=31.1380,
        longitude=120.6450,
    )
    units = {center.name: center}
    for name, lat, lng, station_names in cast.INSTITUTES:
        institute = await _add_unit(
            session,
            region=region,
            parent=center,
            kind=UnitKind.institute,
            name=name,
            latitude=lat,
            longitude=lng,
        )
        units[name] = institute
        for i, station_name in enumerate(station_names):
            units[station_name] = await _add_unit(
                session,
                region=region,
                parent=institute,
                kind=UnitKind.station,
                name=station_name,
                latitude=lat + 0.01 * (i + 1),
                longitude=lng + 0.01 * (i + 1),
            )
    for category in TeamCategory:
        if category is TeamCategory.custom:
            continue
        session.add(
            Team(
                region_id=region.id,
                org_unit_id=center.id,
                name=f"{TEAM_CATEGORY_LABELS[category]}志愿服务队",
                category=category,
            )
        )
    await create_center_admin(session, username="admin", password=admin_password)
    admin_user = await session.scalar(select(StaffUser).where(StaffUser.username == "admin"))
    assert admin_user is not None
    admin = await load_staff(session, admin_user)
    for spec in cast.STAFF:
        unit = units[spec.unit] if spec.unit else center
        await orgs.create_staff(
            session,
            staff=admin,
            data=org_schemas.StaffCreate(
                username=spec.username,
                display_name=spec.display_name,
                password=SecretStr(
                    (passwords or {}).get(spec.username) or secrets.token_urlsafe(12)
                ),
                grants=[org_schemas.GrantCreate(org_unit_id=unit.id, role=spec.role)],
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
