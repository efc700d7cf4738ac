"""HTTP routes of reservations for pick-up: the volunteer's and the merchant's."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, InvalidCursor, error_responses
from app.core.idempotency import IDEMPOTENCY_ERRORS, RequiredIdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.ratelimit import Limit, limited
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentVolunteer
from app.ledger.errors import InsufficientBalance
from app.merchants import reservations, schemas
from app.merchants.access import CurrentMerchantActor
from app.merchants.errors import (
    ON_MERCHANT,
    MerchantNotActive,
    MerchantSuspended,
    OfferInactive,
    OfferLimitReached,
    OfferNotFound,
    OfferNotValidToday,
    OfferOutOfStock,
    ReservationNotFound,
    ReservationNotHeld,
    StarLevelTooLow,
)
from app.merchants.models import ReservationStatus

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


_OFFER_REFUSALS = (
    OfferNotFound,
    OfferInactive,
    OfferNotValidToday,
    OfferOutOfStock,
    OfferLimitReached,
    StarLevelTooLow,
    MerchantNotActive,
    MerchantSuspended,
)


@router.post(
    "/me/reservations",
    tags=["me"],
    summary="Reserve an offer for pick-up: its price is held in the wallet until then",
    description="The offer is checked as a redemption would check it, one of its stock is "
    "set aside and the price held (available counts it as spent). A terminal picks it up "
    "with the eight-digit `pickup_code`, which posts the hold as a redemption; cancelling, "
    "or the timeout (24 hours, or the end of the offer's last valid day), releases the "
    "hold and gives the stock back.",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        *AUTH_ERRORS, *BODY_ERRORS, *IDEMPOTENCY_ERRORS, *_OFFER_REFUSALS, InsufficientBalance
    ),
)
@limited(
    Limit("reservation.principal", "principal", "10/minute"),
    Limit("reservation.ip", "ip", "300/minute"),
)
async def create_reservation(
    body: schemas.ReservationCreate,
    request: Request,
    session: SessionDep,
    volunteer: CurrentVolunteer,
    idempotency_key: RequiredIdempotencyKeyHeader,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=f"volunteer:{volunteer.id}",
        key=idempotency_key,
        payload=body,
        status_code=status.HTTP_201_CREATED,
        run=lambda: reservations.reserve(session, volunteer=volunteer, data=body),
    )


@router.get(
    "/me/reservations",
    tags=["me"],
    summary="My reservations, newest first",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor),
)
async def list_my_reservations(
    session: SessionDep,
    volunteer: CurrentVolunteer,
    page: PageDep,
    state: Annotated[ReservationStatus | None, Query(alias="status")] = None,
) -> Page[schemas.Reservation]:
    return await reservations.mine(session, volunteer=volunteer, status=state, page=page)


@router.post(
    "/me/reservations/{reservation_id}/cancel",
    tags=["me"],
    summary="Give up a reservation: the hold is released, the item back in stock",
    description="Cancelling a cancelled reservation answers the same; one that was picked "
    "up or timed out is refused with `reservation_not_held`.",
    responses=error_responses(*AUTH_ERRORS, ReservationNotFound, ReservationNotHeld),
)
async def cancel_reservation(
    reservation_id: uuid.UUID, session: SessionDep, volunteer: CurrentVolunteer
) -> schemas.Reservation:
    return await reservations.cancel(session, volunteer=volunteer, reservation_id=reservation_id)


@router.get(
    "/merchants/{merchant_id}/reservations",
    tags=["offers"],
    summary="What a merchant has to set aside: its reservations, newest first",
    description="Volunteers' names are masked and the pick-up code is not shown: the "
    "volunteer brings it to the counter.",
    responses=error_responses(*ON_MERCHANT, InvalidCursor),
)
async def list_merchant_reservations(
    merchant_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentMerchantActor,
    page: PageDep,
    state: Annotated[ReservationStatus | None, Query(alias="status")] = None,
) -> Page[schemas.MerchantReservation]:
    return await reservations.of_merchant(
        session, actor=actor, merchant_id=merchant_id, status=state, page=page
    )
