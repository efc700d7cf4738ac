"""Grids: a point (点) of the region given an area, by staff whose roles reach the point;
read by anyone of the region, staff to manage and volunteers to pick one to enrol in."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Page, PageParams, keyset_page
from app.emergency import areas, repository, schemas
from app.emergency.errors import GridAlreadyDefined, GridAreaInvalid, GridUnitNotPoint
from app.emergency.models import AuditAction, AuditSubject, Grid, GridShape
from app.emergency.service.access import audit, grid_for_staff, grid_in_region
from app.identity.principals import StaffContext
from app.orgs import service as orgs
from app.orgs.models import OrgUnit, UnitKind


def grid_out(grid: Grid, unit: OrgUnit) -> schemas.Grid:
    polygon = (
        [schemas.Point(latitude=lat, longitude=lng) for lat, lng in grid.polygon]
        if grid.polygon is not None
        else None
    )
    return schemas.Grid(
        id=grid.id,
        region_id=grid.region_id,
        org_unit_id=grid.org_unit_id,
        name=unit.name,
        station_id=unit.parent_id,
        shape=grid.shape,
        polygon=polygon,
        center=schemas.Point(latitude=grid.center_latitude, longitude=grid.center_longitude),
        radius_m=grid.radius_m,
        created_at=grid.created_at,
        updated_at=grid.updated_at,
    )


def _shape(area: schemas.PolygonArea | schemas.CircleArea) -> dict[str, Any]:
    """The grid's columns for the area, once the area is seen to enclose something."""
    if isinstance(area, schemas.CircleArea):
        return {
            "shape": GridShape.circle,
            "polygon": None,
            "center_latitude": area.center.latitude,
            "center_longitude": area.center.longitude,
            "radius_m": area.radius_m,
        }
    vertices = [(p.latitude, p.longitude) for p in area.points]
    problem = areas.polygon_problem(vertices)
    if problem is not None:
        raise GridAreaInvalid(f"The polygon is no area: {problem}")
    latitude, longitude = areas.centroid(vertices)
    return {
        "shape": GridShape.polygon,
        "polygon": [[lat, lng] for lat, lng in vertices],
        "center_latitude": latitude,
        "center_longitude": longitude,
        "radius_m": None,
    }


async def define_grid(
    session: AsyncSession, *, staff: StaffContext, data: schemas.GridCreate
) -> schemas.Grid:
    unit = await orgs.unit_for_staff(session, staff=staff, unit_id=data.org_unit_id)
    if unit.kind != UnitKind.point:
        raise GridUnitNotPoint()
    shape = _shape(data.area)
    if await repository.grid_of_unit(session, unit_id=unit.id) is not None:
        raise GridAlreadyDefined()
    grid = Grid(
        region_id=staff.region_id,
        org_unit_id=unit.id,
        created_by=staff.id,
        updated_by=staff.id,
        **shape,
    )
    session.add(grid)
    await session.flush()
    audit(
        session,
        region_id=grid.region_id,
        subject=AuditSubject.grid,
        subject_id=grid.id,
        action=AuditAction.grid_defined,
        actor_id=staff.id,
        details={"org_unit_id": str(unit.id), "area": data.area.model_dump(mode="json")},
    )
    await session.flush()
    return grid_out(grid, unit)


async def update_grid(
    session: AsyncSession, *, staff: StaffContext, grid_id: uuid.UUID, data: schemas.GridUpdate
) -> schemas.Grid:
    grid, unit = await grid_for_staff(session, staff=staff, grid_id=grid_id)
    for name, value in _shape(data.area).items():
        setattr(grid, name, value)
    grid.updated_by = staff.id
    audit(
        session,
        region_id=grid.region_id,
        subject=AuditSubject.grid,
        subject_id=grid.id,
        action=AuditAction.grid_updated,
        actor_id=staff.id,
        details={"area": data.area.model_dump(mode="json")},
    )
    await session.flush()
    await session.refresh(grid)
    return grid_out(grid, unit)


async def get_grid(
    session: AsyncSession, *, region_id: uuid.UUID, grid_id: uuid.UUID
) -> schemas.Grid:
    grid, unit = await grid_in_region(session, region_id=region_id, grid_id=grid_id)
    return grid_out(grid, unit)


async def list_grids(
    session: AsyncSession, *, region_id: uuid.UUID, unit_id: uuid.UUID | None, page: PageParams
) -> Page[schemas.Grid]:
    subtree = None
    if unit_id is not None:
        subtree = (await orgs.unit_in_region(session, region_id=region_id, unit_id=unit_id)).path
    rows = await repository.grids_page(session, region_id=region_id, subtree=subtree, page=page)
    return keyset_page(
        rows,
        page,
        key=lambda row: (row[0].created_at, row[0].id),
        out=lambda row: grid_out(*row),
    )
