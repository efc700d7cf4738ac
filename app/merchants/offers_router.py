"""HTTP routes of offers: managed by their merchant, browsed by volunteers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, InvalidCursor, error_responses
from app.core.idempotency import OPTIONAL_IDEMPOTENCY_ERRORS, IdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentVolunteer
from app.merchants import schemas, service
from app.merchants.access import CurrentMerchantActor
from app.merchants.errors import (
    ON_MERCHANT,
    ON_MERCHANT_AS_OWNER,
    LocationRequired,
    OfferDatesInvalid,
    OfferLimitIncomplete,
    OfferNotFound,
)
from app.merchants.models import MerchantCategory

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


@router.post(
    "/merchants/{merchant_id}/offers",
    tags=["offers"],
    summary="Create an offer priced in 良票",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Offer,
    responses=error_responses(
        *ON_MERCHANT_AS_OWNER,
        *BODY_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        OfferLimitIncomplete,
        OfferDatesInvalid,
    ),
)
async def create_offer(
    merchant_id: uuid.UUID,
    body: schemas.OfferCreate,
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
        run=lambda: service.create_offer(session, actor=actor, merchant_id=merchant_id, data=body),
        required=False,
    )


@router.get(
    "/merchants/{merchant_id}/offers",
    tags=["offers"],
    summary="List a merchant's offers, withdrawn ones included",
    responses=error_responses(*ON_MERCHANT, InvalidCursor),
)
async def list_merchant_offers(
    merchant_id: uuid.UUID, session: SessionDep, actor: CurrentMerchantActor, page: PageDep
) -> Page[schemas.Offer]:
    return await service.list_offers(session, actor=actor, merchant_id=merchant_id, page=page)


@router.patch(
    "/merchants/{merchant_id}/offers/{offer_id}",
    tags=["offers"],
    summary="Change or withdraw an offer",
    responses=error_responses(
        *ON_MERCHANT_AS_OWNER, *BODY_ERRORS, OfferNotFound, OfferLimitIncomplete, OfferDatesInvalid
    ),
)
async def update_offer(
    merchant_id: uuid.UUID,
    offer_id: uuid.UUID,
    body: schemas.OfferUpdate,
    session: SessionDep,
    actor: CurrentMerchantActor,
) -> schemas.Offer:
    return await service.update_offer(
        session, actor=actor, merchant_id=merchant_id, offer_id=offer_id, data=body
    )


@router.get(
    "/offers",
    tags=["offers"],
    summary="Browse the active offers of your region, nearest first given a position",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor, LocationRequired),
)
async def browse_offers(
    session: SessionDep,
    volunteer: CurrentVolunteer,
    page: PageDep,
    category: MerchantCategory | None = None,
    merchant_id: uuid.UUID | None = None,
    latitude: Annotated[float | None, Query(ge=-90, le=90)] = None,
    longitude: Annotated[float | None, Query(ge=-180, le=180)] = None,
) -> Page[schemas.OfferListing]:
    return await service.browse_offers(
        session,
        volunteer=volunteer,
        category=category,
        merchant_id=merchant_id,
        latitude=latitude,
        longitude=longitude,
        page=page,
    )
