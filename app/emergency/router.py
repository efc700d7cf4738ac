"""HTTP routes of grids and their teams: `/v1/grids`, `/v1/grid-enrolments` and
`/v1/me/grid-enrolments`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, Forbidden, InvalidCursor, error_responses
from app.core.idempotency import OPTIONAL_IDEMPOTENCY_ERRORS, IdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.emergency import schemas, service
from app.emergency.errors import (
    AlreadyEnrolled,
    EnrolmentNotActive,
    EnrolmentNotFound,
    EnrolmentNotPending,
    GridAlreadyDefined,
    GridAreaInvalid,
    GridNotFound,
    GridUnitNotPoint,
)
from app.emergency.models import EnrolmentStatus
from app.identity.principals import CurrentPrincipal, CurrentStaff, CurrentVolunteer
from app.orgs.errors import NotPermittedOnUnit, UnitNotFound

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


def _region_of_reader(principal: CurrentPrincipal) -> uuid.UUID:
    """The region of a volunteer or a staff member: the grids are their region's map."""
    if principal.kind not in ("volunteer", "staff") or principal.region_id is None:
        raise Forbidden("This needs a volunteer's or a staff member's token")
    return principal.region_id


ReaderRegion = Annotated[uuid.UUID, Depends(_region_of_reader)]


@router.post(
    "/grids",
    tags=["grids"],
    summary="Make a point (点) a grid with its area (polygon or circle, GCJ-02)",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Grid,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        UnitNotFound,
        NotPermittedOnUnit,
        GridUnitNotPoint,
        GridAreaInvalid,
        GridAlreadyDefined,
    ),
)
async def define_grid(
    data: schemas.GridCreate,
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
        run=lambda: service.define_grid(session, staff=staff, data=data),
        required=False,
    )


@router.get(
    "/grids",
    tags=["grids"],
    summary="List the region's grids, all or under one unit",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor, UnitNotFound),
)
async def list_grids(
    session: SessionDep,
    region_id: ReaderRegion,
    page: PageDep,
    unit_id: Annotated[uuid.UUID | None, Query(description="This unit and below")] = None,
) -> Page[schemas.Grid]:
    return await service.list_grids(session, region_id=region_id, unit_id=unit_id, page=page)


@router.get(
    "/grids/{grid_id}",
    tags=["grids"],
    summary="Read a grid",
    responses=error_responses(*AUTH_ERRORS, GridNotFound),
)
async def get_grid(
    grid_id: uuid.UUID, session: SessionDep, region_id: ReaderRegion
) -> schemas.Grid:
    return await service.get_grid(session, region_id=region_id, grid_id=grid_id)


@router.patch(
    "/grids/{grid_id}",
    tags=["grids"],
    summary="Change a grid's area",
    responses=error_responses(
        *AUTH_ERRORS, *BODY_ERRORS, GridNotFound, NotPermittedOnUnit, GridAreaInvalid
    ),
)
async def update_grid(
    grid_id: uuid.UUID, data: schemas.GridUpdate, session: SessionDep, staff: CurrentStaff
) -> schemas.Grid:
    return await service.update_grid(session, staff=staff, grid_id=grid_id, data=data)


@router.post(
    "/grids/{grid_id}/enrolments",
    tags=["grids"],
    summary="Ask to join a grid's emergency team, with your skills and when you can come",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Enrolment,
    responses=error_responses(
        *AUTH_ERRORS, *BODY_ERRORS, *OPTIONAL_IDEMPOTENCY_ERRORS, GridNotFound, AlreadyEnrolled
    ),
)
async def enrol(
    grid_id: uuid.UUID,
    data: schemas.EnrolmentCreate,
    request: Request,
    session: SessionDep,
    volunteer: CurrentVolunteer,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=f"volunteer:{volunteer.id}",
        key=idempotency_key,
        payload=data,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.enrol(session, volunteer=volunteer, grid_id=grid_id, data=data),
        required=False,
    )


@router.get(
    "/grids/{grid_id}/enrolments",
    tags=["grids"],
    summary="The grid's team: enrolments, waiting, confirmed or past",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor, GridNotFound, NotPermittedOnUnit),
)
async def list_team(
    grid_id: uuid.UUID,
    session: SessionDep,
    staff: CurrentStaff,
    page: PageDep,
    status: EnrolmentStatus | None = None,
) -> Page[schemas.TeamMember]:
    return await service.team(session, staff=staff, grid_id=grid_id, status=status, page=page)


DECISION_ERRORS = (*AUTH_ERRORS, *BODY_ERRORS, EnrolmentNotFound, EnrolmentNotPending)


@router.post(
    "/grid-enrolments/{enrolment_id}/confirm",
    tags=["grids"],
    summary="Confirm a volunteer into the grid's team: call-outs reach them from now on",
    response_model=schemas.Enrolment,
    responses=error_responses(*DECISION_ERRORS),
)
async def confirm_enrolment(
    enrolment_id: uuid.UUID,
    data: schemas.EnrolmentDecision,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.Enrolment:
    return await service.confirm(
        session, staff=staff, enrolment_id=enrolment_id, reason=data.reason
    )


@router.post(
    "/grid-enrolments/{enrolment_id}/refuse",
    tags=["grids"],
    summary="Refuse a volunteer's enrolment, with the reason",
    response_model=schemas.Enrolment,
    responses=error_responses(*DECISION_ERRORS),
)
async def refuse_enrolment(
    enrolment_id: uuid.UUID,
    data: schemas.EnrolmentDecision,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.Enrolment:
    return await service.refuse(session, staff=staff, enrolment_id=enrolment_id, reason=data.reason)


@router.post(
    "/grid-enrolments/{enrolment_id}/withdraw",
    tags=["grids"],
    summary="Leave a grid's team (or take back the request)",
    response_model=schemas.Enrolment,
    responses=error_responses(*AUTH_ERRORS, EnrolmentNotFound, EnrolmentNotActive),
)
async def withdraw_enrolment(
    enrolment_id: uuid.UUID, session: SessionDep, volunteer: CurrentVolunteer
) -> schemas.Enrolment:
    return await service.withdraw(session, volunteer=volunteer, enrolment_id=enrolment_id)


@router.get(
    "/me/grid-enrolments",
    tags=["grids"],
    summary="The grids' teams you are in or asked to join",
    responses=error_responses(*AUTH_ERRORS),
)
async def my_enrolments(
    session: SessionDep, volunteer: CurrentVolunteer
) -> list[schemas.MyEnrolment]:
    return await service.my_enrolments(session, volunteer=volunteer)
