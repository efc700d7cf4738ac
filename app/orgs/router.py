"""HTTP routes of `app.orgs`: `/v1/regions`, `/v1/org-units`, `/v1/teams`, `/v1/staff`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from app.core.db import SessionDep
from app.core.errors import (
    AUTH_ERRORS,
    BODY_ERRORS,
    InvalidCursor,
    error_responses,
)
from app.core.idempotency import OPTIONAL_IDEMPOTENCY_ERRORS, IdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.identity.errors import UsernameTaken
from app.identity.principals import CurrentPrincipal, CurrentStaff
from app.identity.scopes import client_scope
from app.orgs import schemas, service
from app.orgs.errors import (
    AdminRoleRequired,
    CenterAdminRequired,
    GrantExceedsReach,
    GrantExists,
    GrantNotFound,
    LastCenterAdmin,
    NotPermittedOnUnit,
    RegionNotFound,
    RoleUnitMismatch,
    SelfDeactivation,
    StaffNotFound,
    TeamCategoryInvalid,
    TeamNotFound,
    UnitKindInvalid,
    UnitNotFound,
)
from app.orgs.models import TeamCategory, UnitKind

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)

# Every route needs a token; a token of the wrong kind of principal is 403.


# Regions


@router.get(
    "/regions",
    tags=["regions"],
    summary="List regions: only the caller's own",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor),
)
@client_scope("orgs:read")
async def list_regions(
    session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> Page[schemas.Region]:
    return await service.list_regions(session, principal=principal, page=page)


@router.get(
    "/regions/{region_id}",
    tags=["regions"],
    summary="Read the caller's region",
    responses=error_responses(*AUTH_ERRORS, RegionNotFound),
)
@client_scope("orgs:read")
async def get_region(
    region_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Region:
    return await service.get_region_of(session, principal=principal, region_id=region_id)


@router.patch(
    "/regions/{region_id}",
    tags=["regions"],
    summary="Rename the region or change its time zone (center admin)",
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, RegionNotFound, CenterAdminRequired),
)
async def update_region(
    region_id: uuid.UUID,
    changes: schemas.RegionUpdate,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.Region:
    return await service.update_region(session, staff=staff, region_id=region_id, changes=changes)


# Org units


@router.post(
    "/org-units",
    tags=["org-units"],
    summary="Create a unit under a parent the caller administers",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.OrgUnit,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        UnitNotFound,
        NotPermittedOnUnit,
        UnitKindInvalid,
    ),
)
async def create_org_unit(
    data: schemas.OrgUnitCreate,
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=staff.scope_key,
        key=idempotency_key,
        payload=data,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.create_unit(session, staff=staff, data=data),
        required=False,
    )


@router.get(
    "/org-units",
    tags=["org-units"],
    summary="List the region's units, by parent or kind",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor),
)
@client_scope("orgs:read")
async def list_org_units(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    parent_id: Annotated[uuid.UUID | None, Query(description="Children of this unit")] = None,
    kind: Annotated[UnitKind | None, Query(description="Only units of this kind")] = None,
) -> Page[schemas.OrgUnit]:
    return await service.list_units(
        session, principal=principal, parent_id=parent_id, kind=kind, page=page
    )


@router.get(
    "/org-units/{unit_id}",
    tags=["org-units"],
    summary="Read a unit of the caller's region",
    responses=error_responses(*AUTH_ERRORS, UnitNotFound),
)
@client_scope("orgs:read")
async def get_org_unit(
    unit_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> schemas.OrgUnit:
    return await service.get_unit(session, principal=principal, unit_id=unit_id)


@router.patch(
    "/org-units/{unit_id}",
    tags=["org-units"],
    summary="Change a unit the caller administers",
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, UnitNotFound, NotPermittedOnUnit),
)
async def update_org_unit(
    unit_id: uuid.UUID,
    changes: schemas.OrgUnitUpdate,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.OrgUnit:
    return await service.update_unit(session, staff=staff, unit_id=unit_id, changes=changes)


# Teams


@router.post(
    "/teams",
    tags=["teams"],
    summary="Create a team on a unit the caller administers",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Team,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        UnitNotFound,
        NotPermittedOnUnit,
        TeamCategoryInvalid,
    ),
)
async def create_team(
    data: schemas.TeamCreate,
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=staff.scope_key,
        key=idempotency_key,
        payload=data,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.create_team(session, staff=staff, data=data),
        required=False,
    )


@router.get(
    "/teams",
    tags=["teams"],
    summary="List the region's teams, by unit or category",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor),
)
@client_scope("orgs:read")
async def list_teams(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    org_unit_id: Annotated[uuid.UUID | None, Query(description="Teams of this unit")] = None,
    category: Annotated[TeamCategory | None, Query(description="Teams of this category")] = None,
) -> Page[schemas.Team]:
    return await service.list_teams(
        session, principal=principal, org_unit_id=org_unit_id, category=category, page=page
    )


@router.get(
    "/teams/{team_id}",
    tags=["teams"],
    summary="Read a team of the caller's region",
    responses=error_responses(*AUTH_ERRORS, TeamNotFound),
)
@client_scope("orgs:read")
async def get_team(
    team_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Team:
    return await service.get_team(session, principal=principal, team_id=team_id)


@router.patch(
    "/teams/{team_id}",
    tags=["teams"],
    summary="Change a team of a unit the caller administers",
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        TeamNotFound,
        UnitNotFound,
        NotPermittedOnUnit,
        TeamCategoryInvalid,
    ),
)
async def update_team(
    team_id: uuid.UUID,
    changes: schemas.TeamUpdate,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.Team:
    return await service.update_team(session, staff=staff, team_id=team_id, changes=changes)


# Staff and grants


@router.post(
    "/staff",
    tags=["staff"],
    summary="Create a staff account with its first roles",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Staff,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        AdminRoleRequired,
        UnitNotFound,
        GrantExceedsReach,
        RoleUnitMismatch,
        UsernameTaken,
    ),
)
async def create_staff(
    data: schemas.StaffCreate,
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=staff.scope_key,
        key=idempotency_key,
        payload=data,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.create_staff(session, staff=staff, data=data),
        required=False,
    )


@router.get(
    "/staff",
    tags=["staff"],
    summary="List the staff holding roles in the caller's subtree",
    responses=error_responses(*AUTH_ERRORS, AdminRoleRequired, InvalidCursor),
)
async def list_staff(
    session: SessionDep, staff: CurrentStaff, page: PageDep
) -> Page[schemas.Staff]:
    return await service.list_staff(session, staff=staff, page=page)


@router.get(
    "/staff/{staff_id}",
    tags=["staff"],
    summary="Read a staff account in the caller's subtree",
    responses=error_responses(*AUTH_ERRORS, AdminRoleRequired, StaffNotFound),
)
async def get_staff(staff_id: uuid.UUID, session: SessionDep, staff: CurrentStaff) -> schemas.Staff:
    return await service.get_staff(session, staff=staff, staff_id=staff_id)


@router.patch(
    "/staff/{staff_id}",
    tags=["staff"],
    summary="Rename, deactivate or reset the password of a staff account",
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        AdminRoleRequired,
        StaffNotFound,
        GrantExceedsReach,
        SelfDeactivation,
    ),
)
async def update_staff(
    staff_id: uuid.UUID,
    changes: schemas.StaffUpdate,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.Staff:
    return await service.update_staff(session, staff=staff, staff_id=staff_id, changes=changes)


@router.post(
    "/staff/{staff_id}/grants",
    tags=["staff"],
    summary="Grant a role on a unit within the caller's reach",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Grant,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        AdminRoleRequired,
        StaffNotFound,
        UnitNotFound,
        GrantExceedsReach,
        RoleUnitMismatch,
        GrantExists,
    ),
)
async def grant_role(
    staff_id: uuid.UUID,
    data: schemas.GrantCreate,
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=staff.scope_key,
        key=idempotency_key,
        payload=data,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.add_grant(session, staff=staff, staff_id=staff_id, data=data),
        required=False,
    )


@router.post(
    "/staff/{staff_id}/grants/{grant_id}/revoke",
    tags=["staff"],
    summary="Revoke a role within the caller's reach, with a reason; the grant is kept",
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        AdminRoleRequired,
        StaffNotFound,
        GrantNotFound,
        GrantExceedsReach,
        LastCenterAdmin,
    ),
)
async def revoke_grant(
    staff_id: uuid.UUID,
    grant_id: uuid.UUID,
    data: schemas.GrantRevoke,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.Grant:
    return await service.revoke_grant(
        session, staff=staff, staff_id=staff_id, grant_id=grant_id, reason=data.reason
    )
