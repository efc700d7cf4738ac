"""HTTP routes of `app.tenants`, for platform admins only: `/v1/platform/regions`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, InvalidCursor, error_responses
from app.core.idempotency import OPTIONAL_IDEMPOTENCY_ERRORS, IdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.identity.errors import UsernameTaken
from app.identity.models import PlatformAdmin
from app.identity.principals import CurrentPlatformAdmin
from app.orgs.errors import (
    RegionCodeTaken,
    RegionHasCenterAdmin,
    RegionNotFound,
    UnitNotFound,
)
from app.tenants import schemas, service

router = APIRouter(prefix="/v1/platform", tags=["tenants"], route_class=QueryCheckedRoute)

# A region's own people are refused (403) before anything is read: what they name, a
# region or an id nobody holds, makes no difference to the answer.


def _scope(admin: PlatformAdmin) -> str:
    return f"platform_admin:{admin.id}"


@router.post(
    "/regions",
    summary="Create a region with its center, eight standing teams, policies and accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PlatformRegion,
    responses=error_responses(
        *AUTH_ERRORS, *BODY_ERRORS, *OPTIONAL_IDEMPOTENCY_ERRORS, RegionCodeTaken
    ),
)
async def create_platform_region(
    data: schemas.RegionCreate,
    request: Request,
    session: SessionDep,
    admin: CurrentPlatformAdmin,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=_scope(admin),
        key=idempotency_key,
        payload=data,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.create_region_for(session, admin=admin, data=data),
        required=False,
    )


@router.get(
    "/regions",
    summary="List every region",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor),
)
async def list_platform_regions(
    session: SessionDep, admin: CurrentPlatformAdmin, page: PageDep
) -> Page[schemas.PlatformRegion]:
    return await service.list_regions(session, page=page)


@router.post(
    "/regions/{region_id}/admins",
    summary="Create the region's first center admin",
    description="Only while the region has no center admin; after that its own admins "
    "manage its staff. A password left out is made up and returned once.",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.CenterAdminCreated,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        RegionNotFound,
        UnitNotFound,
        RegionHasCenterAdmin,
        UsernameTaken,
    ),
)
async def create_region_first_admin(
    region_id: uuid.UUID,
    data: schemas.CenterAdminCreate,
    request: Request,
    session: SessionDep,
    admin: CurrentPlatformAdmin,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=_scope(admin),
        key=idempotency_key,
        payload=data.model_dump(mode="json", exclude={"password"})
        | {"password_set": data.password is not None},
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.create_first_admin(
            session, admin=admin, region_id=region_id, data=data
        ),
        required=False,
        # A password is shown once: the stored replay leaves it out.
        kept=lambda body: {**body, "password": None},
    )
