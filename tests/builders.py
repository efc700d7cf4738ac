"""Small async builders for test data, and tokens for each kind of principal.

Builders write through the models and commit, so the app under test sees the
rows; tests then act only through HTTP and assert on responses and rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import hash_password
from app.identity.models import StaffKind, StaffUser
from app.identity.repository import create_volunteer
from app.orgs.models import OrgUnit, Region, Role, StaffGrant, UnitKind
from app.volunteers.models import Volunteer
from fakes.wechat import openid_for

PASSWORD = "correct horse battery staple"
_password_hash: str | None = None


async def _hash() -> str:
    global _password_hash
    if _password_hash is None:
        _password_hash = await hash_password(PASSWORD)
    return _password_hash


async def make_region(
    session: AsyncSession, *, code: str | None = None, name: str = "测试区"
) -> Region:
    region = Region(code=code or f"r{uuid.uuid4().hex[:8]}", name=name, timezone="Asia/Shanghai")
    session.add(region)
    await session.commit()
    return region


async def make_unit(
    session: AsyncSession,
    region: Region,
    *,
    parent: OrgUnit | None = None,
    kind: UnitKind | None = None,
    name: str | None = None,
    latitude: float = 31.16,
    longitude: float = 120.64,
) -> OrgUnit:
    if kind is None:
        kind = {
            None: UnitKind.center,
            UnitKind.center: UnitKind.institute,
            UnitKind.institute: UnitKind.station,
            UnitKind.station: UnitKind.point,
        }[parent.kind if parent else None]
    unit = OrgUnit(
        region_id=region.id,
        parent_id=parent.id if parent else None,
        kind=kind,
        name=name or f"{kind.value}-{uuid.uuid4().hex[:6]}",
        path="",
        latitude=latitude,
        longitude=longitude,
        seven_haves={},
    )
    session.add(unit)
    await session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    await session.commit()
    return unit


async def make_staff(
    session: AsyncSession,
    region: Region,
    *,
    role: Role | None = None,
    unit: OrgUnit | None = None,
    username: str | None = None,
    kind: StaffKind = StaffKind.staff,
) -> StaffUser:
    user = StaffUser(
        region_id=region.id,
        kind=kind,
        username=username or f"u{uuid.uuid4().hex[:10]}",
        display_name="测试员",
        password_hash=await _hash(),
    )
    session.add(user)
    await session.flush()
    if role is not None and unit is not None:
        session.add(
            StaffGrant(region_id=region.id, staff_id=user.id, org_unit_id=unit.id, role=role)
        )
    await session.commit()
    return user


async def make_volunteer(
    session: AsyncSession, region: Region, *, code: str | None = None, **profile: Any
) -> Volunteer:
    code = code or f"v{uuid.uuid4().hex[:10]}"
    volunteer = await create_volunteer(
        session, region_id=region.id, region_code=region.code, openid=openid_for(code)
    )
    for key, value in profile.items():
        setattr(volunteer, key, value)
    await session.commit()
    return volunteer


def bearer(
    app: Any, *, sub: uuid.UUID, typ: str, region_id: uuid.UUID | None, **kw: Any
) -> dict[str, str]:
    token, _ = app.state.keyring.issue(sub=sub, typ=typ, region_id=region_id, **kw)
    return {"Authorization": f"Bearer {token}"}


def volunteer_auth(app: Any, volunteer: Volunteer) -> dict[str, str]:
    return bearer(app, sub=volunteer.id, typ="volunteer", region_id=volunteer.region_id)


def staff_auth(app: Any, user: StaffUser) -> dict[str, str]:
    typ = "merchant_staff" if user.kind == StaffKind.merchant else "staff"
    return bearer(app, sub=user.id, typ=typ, region_id=user.region_id)


@dataclass
class World:
    """One region's tree (center → 2 institutes → 1 station each → 1 point), its staff
    and two volunteers, plus a second region with its own center admin."""

    region: Region
    center: OrgUnit
    institute_x: OrgUnit
    institute_y: OrgUnit
    station_x: OrgUnit
    station_y: OrgUnit
    point_x: OrgUnit
    center_admin: StaffUser
    institute_admin_x: StaffUser
    station_admin_x: StaffUser
    organizer_x: StaffUser
    organizer_y: StaffUser
    volunteer_a: Volunteer
    volunteer_b: Volunteer
    other_region: Region
    other_center: OrgUnit
    other_admin: StaffUser
    other_volunteer: Volunteer
    auth: dict[str, dict[str, str]] = field(default_factory=dict)


async def make_world(session: AsyncSession, app: Any) -> World:
    region = await make_region(session, name="吴江区")
    center = await make_unit(session, region, name="中心")
    institute_x = await make_unit(session, region, parent=center, name="所X")
    institute_y = await make_unit(session, region, parent=center, name="所Y")
    station_x = await make_unit(session, region, parent=institute_x, name="站X")
    station_y = await make_unit(session, region, parent=institute_y, name="站Y")
    point_x = await make_unit(session, region, parent=station_x, name="点X")
    other_region = await make_region(session, name="浦口区")
    other_center = await make_unit(session, other_region, name="另一中心")
    world = World(
        region=region,
        center=center,
        institute_x=institute_x,
        institute_y=institute_y,
        station_x=station_x,
        station_y=station_y,
        point_x=point_x,
        center_admin=await make_staff(session, region, role=Role.center_admin, unit=center),
        institute_admin_x=await make_staff(
            session, region, role=Role.institute_admin, unit=institute_x
        ),
        station_admin_x=await make_staff(session, region, role=Role.station_admin, unit=station_x),
        organizer_x=await make_staff(session, region, role=Role.organizer, unit=station_x),
        organizer_y=await make_staff(session, region, role=Role.organizer, unit=station_y),
        volunteer_a=await make_volunteer(session, region, name="志愿者甲"),
        volunteer_b=await make_volunteer(session, region, name="志愿者乙"),
        other_region=other_region,
        other_center=other_center,
        other_admin=await make_staff(
            session, other_region, role=Role.center_admin, unit=other_center
        ),
        other_volunteer=await make_volunteer(session, other_region),
    )
    for name in (
        "center_admin",
        "institute_admin_x",
        "station_admin_x",
        "organizer_x",
        "organizer_y",
        "other_admin",
    ):
        world.auth[name] = staff_auth(app, getattr(world, name))
    for name in ("volunteer_a", "volunteer_b", "other_volunteer"):
        world.auth[name] = volunteer_auth(app, getattr(world, name))
    return world
