"""HTTP routes of merchants and their staff, for the region's staff and the merchant's
own people.

The merchants' routes are served by several routers, in the order `app.main` lists them:
this one, `offers_router`, `terminal_admin_router`, `statements_router`, `codes_router`
and `reservations_router`. Terminals' own signed routes are in `terminal_router`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, InvalidCursor, error_responses
from app.core.idempotency import OPTIONAL_IDEMPOTENCY_ERRORS, IdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentStaff
from app.merchants import schemas, service, settlement
from app.merchants.access import CurrentMerchantActor
from app.merchants.errors import (
    ON_MERCHANT,
    ON_MERCHANT_AS_OWNER,
    MerchantStaffNotFound,
    MerchantStatusTransitionInvalid,
    MerchantUsernameTaken,
    NotMerchantManager,
    SettlementPeriodOpen,
    StationInvalid,
)
from app.merchants.models import MerchantStatus
from app.orgs.errors import CenterAdminRequired, UnitNotFound

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


# Merchants


@router.post(
    "/merchants",
    tags=["merchants"],
    summary="Onboard a merchant (pending), paired with stations you administer",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Merchant,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        UnitNotFound,
        StationInvalid,
        NotMerchantManager,
    ),
)
async def create_merchant(
    body: schemas.MerchantCreate,
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
        payload=body,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.create_merchant(session, staff=staff, data=body),
        required=False,
    )


@router.get(
    "/merchants",
    tags=["merchants"],
    summary="List the merchants you manage (merchant staff: their own)",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor),
)
async def list_merchants(
    session: SessionDep,
    actor: CurrentMerchantActor,
    page: PageDep,
    merchant_status: Annotated[MerchantStatus | None, Query(alias="status")] = None,
) -> Page[schemas.Merchant]:
    return await service.list_merchants(session, actor=actor, status=merchant_status, page=page)


@router.post(
    "/merchants/settlements",
    tags=["settlement"],
    summary="Settle every merchant's receipts of an ended month (center admin; idempotent)",
    responses=error_responses(
        *AUTH_ERRORS, *BODY_ERRORS, CenterAdminRequired, SettlementPeriodOpen
    ),
)
async def settle_merchants(
    body: schemas.SettlementRequest, session: SessionDep, staff: CurrentStaff
) -> schemas.SettlementRun:
    return await settlement.settle_month(session, staff=staff, period=body.period)


@router.get(
    "/merchants/{merchant_id}",
    tags=["merchants"],
    summary="Read a merchant",
    responses=error_responses(*ON_MERCHANT),
)
async def get_merchant(
    merchant_id: uuid.UUID, session: SessionDep, actor: CurrentMerchantActor
) -> schemas.Merchant:
    return await service.get_merchant(session, actor=actor, merchant_id=merchant_id)


@router.patch(
    "/merchants/{merchant_id}",
    tags=["merchants"],
    summary="Change a merchant's details or paired stations",
    responses=error_responses(*ON_MERCHANT, *BODY_ERRORS, UnitNotFound, StationInvalid),
)
async def update_merchant(
    merchant_id: uuid.UUID,
    body: schemas.MerchantUpdate,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.Merchant:
    return await service.update_merchant(session, staff=staff, merchant_id=merchant_id, data=body)


@router.post(
    "/merchants/{merchant_id}/status",
    tags=["merchants"],
    summary="Activate or suspend a merchant",
    responses=error_responses(*ON_MERCHANT, *BODY_ERRORS, MerchantStatusTransitionInvalid),
)
async def change_merchant_status(
    merchant_id: uuid.UUID,
    body: schemas.MerchantStatusChange,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.Merchant:
    return await service.change_status(
        session, staff=staff, merchant_id=merchant_id, status=body.status
    )


@router.post(
    "/merchants/{merchant_id}/staff",
    tags=["merchants"],
    summary="Create a merchant staff login (managers: owners and cashiers; owners: cashiers)",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.MerchantStaff,
    responses=error_responses(
        *ON_MERCHANT_AS_OWNER, *BODY_ERRORS, *OPTIONAL_IDEMPOTENCY_ERRORS, MerchantUsernameTaken
    ),
)
async def create_merchant_staff(
    merchant_id: uuid.UUID,
    body: schemas.MerchantStaffCreate,
    request: Request,
    session: SessionDep,
    actor: CurrentMerchantActor,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=actor.label,
        key=idempotency_key,
        payload=body,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.create_merchant_staff(
            session, actor=actor, merchant_id=merchant_id, data=body
        ),
        required=False,
    )


@router.get(
    "/merchants/{merchant_id}/staff",
    tags=["merchants"],
    summary="List a merchant's staff logins",
    responses=error_responses(*ON_MERCHANT_AS_OWNER),
)
async def list_merchant_staff(
    merchant_id: uuid.UUID, session: SessionDep, actor: CurrentMerchantActor
) -> list[schemas.MerchantStaff]:
    return await service.list_merchant_staff(session, actor=actor, merchant_id=merchant_id)


@router.patch(
    "/merchants/{merchant_id}/staff/{staff_id}",
    tags=["merchants"],
    summary="Rename, disable or re-enable a merchant staff login, or reset its password "
    "(disabling and resetting end its logins at once)",
    responses=error_responses(*ON_MERCHANT_AS_OWNER, *BODY_ERRORS, MerchantStaffNotFound),
)
async def update_merchant_staff(
    merchant_id: uuid.UUID,
    staff_id: uuid.UUID,
    body: schemas.MerchantStaffUpdate,
    session: SessionDep,
    actor: CurrentMerchantActor,
) -> schemas.MerchantStaff:
    return await service.update_merchant_staff(
        session, actor=actor, merchant_id=merchant_id, staff_id=staff_id, data=body
    )


@router.delete(
    "/merchants/{merchant_id}/staff/{staff_id}",
    tags=["merchants"],
    summary="Remove a merchant staff login: disabled for good, its logins ended at once",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*ON_MERCHANT_AS_OWNER, MerchantStaffNotFound),
)
async def remove_merchant_staff(
    merchant_id: uuid.UUID, staff_id: uuid.UUID, session: SessionDep, actor: CurrentMerchantActor
) -> Response:
    await service.remove_merchant_staff(
        session, actor=actor, merchant_id=merchant_id, staff_id=staff_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
