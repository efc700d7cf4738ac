"""Demo data: the 吴江区 region with its centre, institutes, stations, teams and people.

`seed_demo` is idempotent: run twice, it finds the region and changes nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import hash_password
from app.identity.models import StaffKind, StaffUser
from app.identity.repository import create_volunteer
from app.identity.wechat_fake import openid_for
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

REGION_CODE = "wujiang"
# Institutes (所) and their stations (站), with GCJ-02 coordinates near each town centre.
INSTITUTES = [
    ("松陵街道新时代文明实践所", 31.1605, 120.6452, ["流虹社区实践站", "城南社区实践站"]),
    ("黎里镇新时代文明实践所", 30.9302, 120.7347, ["黎里社区实践站", "汾湖湾村实践站"]),
]
DEMO_VOLUNTEERS = [("xiaoming", "王小明"), ("xiaohong", "李小红"), ("laozhang", "张建国")]


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


async def seed_demo(session: AsyncSession, *, admin_password: str | None = None) -> dict[str, Any]:
    existing = await session.scalar(select(Region).where(Region.code == REGION_CODE))
    if existing is not None:
        return {"region": existing.name, "created": False}
    region = Region(code=REGION_CODE, name="吴江区", timezone="Asia/Shanghai")
    session.add(region)
    await session.flush()
    center = await _add_unit(
        session,
        region=region,
        parent=None,
        kind=UnitKind.center,
        name="吴江区新时代文明实践中心",
        latitude=31.1380,
        longitude=120.6450,
    )
    stations = []
    for name, lat, lng, station_names in INSTITUTES:
        institute = await _add_unit(
            session,
            region=region,
            parent=center,
            kind=UnitKind.institute,
            name=name,
            latitude=lat,
            longitude=lng,
        )
        for i, station_name in enumerate(station_names):
            stations.append(
                await _add_unit(
                    session,
                    region=region,
                    parent=institute,
                    kind=UnitKind.station,
                    name=station_name,
                    latitude=lat + 0.01 * (i + 1),
                    longitude=lng + 0.01 * (i + 1),
                )
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
    password = await create_center_admin(session, username="admin", password=admin_password)
    volunteers = []
    for code, name in DEMO_VOLUNTEERS:
        await create_volunteer(
            session,
            region_id=region.id,
            region_code=region.code,
            openid=openid_for(code),
            name=name,
        )
        volunteers.append({"wechat_login_code": code, "name": name})
    await session.flush()
    return {
        "region": region.name,
        "created": True,
        "units": 1 + len(INSTITUTES) + len(stations),
        "teams": 8,
        "admin": {"username": "admin", "password": password},
        "volunteers": volunteers,
    }
