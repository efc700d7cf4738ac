"""The org-unit tree: a unit created under its parent, read, changed, listed."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import new_id
from app.core.pagination import Page, PageParams, keyset_page
from app.identity.principals import Principal, StaffContext
from app.orgs import repository, schemas
from app.orgs.errors import UnitKindInvalid, UnitNotFound
from app.orgs.models import ADMIN_ROLES, CHILD_KIND, OrgUnit, UnitKind
from app.orgs.service.checks import after_cursor, unit_for_staff, unit_in_region


def _unit_out(unit: OrgUnit) -> schemas.OrgUnit:
    stored = unit.seven_haves or {}
    seven = schemas.SevenHaves.model_validate(
        {k: v for k, v in stored.items() if k in schemas.SevenHaves.model_fields}
    )
    return schemas.OrgUnit(
        id=unit.id,
        region_id=unit.region_id,
        parent_id=unit.parent_id,
        kind=UnitKind(unit.kind),
        name=unit.name,
        address=unit.address,
        latitude=unit.latitude,
        longitude=unit.longitude,
        seven_haves=seven,
        created_at=unit.created_at,
        updated_at=unit.updated_at,
    )


def _readable_region(principal: Principal) -> uuid.UUID:
    if principal.region_id is None:
        raise UnitNotFound()
    return principal.region_id


async def create_unit(
    session: AsyncSession, *, staff: StaffContext, data: schemas.OrgUnitCreate
) -> schemas.OrgUnit:
    parent = await unit_for_staff(session, staff=staff, unit_id=data.parent_id, roles=ADMIN_ROLES)
    expected = CHILD_KIND[UnitKind(parent.kind)]
    if expected is None:
        raise UnitKindInvalid("A point is a leaf: nothing sits under it")
    if data.kind != expected:
        raise UnitKindInvalid(f"Under a {parent.kind} comes a {expected.value}, not a {data.kind}")
    unit_id = new_id()
    unit = OrgUnit(
        id=unit_id,
        region_id=parent.region_id,
        parent_id=parent.id,
        kind=data.kind,
        name=data.name,
        path=f"{parent.path}{unit_id}/",
        address=data.address,
        latitude=data.latitude,
        longitude=data.longitude,
        seven_haves=data.seven_haves.model_dump(),
    )
    session.add(unit)
    await session.flush()
    return _unit_out(unit)


async def get_unit(
    session: AsyncSession, *, principal: Principal, unit_id: uuid.UUID
) -> schemas.OrgUnit:
    region_id = _readable_region(principal)
    return _unit_out(await unit_in_region(session, region_id=region_id, unit_id=unit_id))


async def update_unit(
    session: AsyncSession,
    *,
    staff: StaffContext,
    unit_id: uuid.UUID,
    changes: schemas.OrgUnitUpdate,
) -> schemas.OrgUnit:
    unit = await unit_for_staff(session, staff=staff, unit_id=unit_id, roles=ADMIN_ROLES)
    sent = changes.model_fields_set
    if changes.name is not None:
        unit.name = changes.name
    if "address" in sent:
        unit.address = changes.address
    if "latitude" in sent:
        unit.latitude = changes.latitude
        unit.longitude = changes.longitude
    if changes.seven_haves is not None:
        current = _unit_out(unit).seven_haves.model_dump()
        current.update(changes.seven_haves.model_dump(include=changes.seven_haves.model_fields_set))
        unit.seven_haves = current
    await session.flush()
    return _unit_out(unit)


async def list_units(
    session: AsyncSession,
    *,
    principal: Principal,
    parent_id: uuid.UUID | None,
    kind: UnitKind | None,
    page: PageParams,
) -> Page[schemas.OrgUnit]:
    after = after_cursor(page)
    if principal.region_id is None:
        return Page(items=[])
    rows = await repository.units_page(
        session,
        region_id=principal.region_id,
        parent_id=parent_id,
        kind=kind,
        after=after,
        limit=page.limit,
    )
    return keyset_page(rows, page, key=lambda u: (u.created_at, u.id), out=_unit_out)
