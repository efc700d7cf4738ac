"""HTTP routes of `app.merchants` for people: merchants, their staff, offers, terminals,
refunds, statements and settlement; the volunteer's redemption codes and offer browsing;
the region's merchant policy. Terminals' own signed routes are in `terminal_router`."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.core.db import SessionDep
from app.core.errors import (
    AUTH_ERRORS,
    BODY_ERRORS,
    InvalidCursor,
    NotFound,
    error_responses,
)
from app.core.idempotency import (
    IDEMPOTENCY_ERRORS,
    OPTIONAL_IDEMPOTENCY_ERRORS,
    IdempotencyKeyHeader,
    idempotent,
)
from app.core.pagination import Page, PageDep
from app.core.ratelimit import Limit, limited
from app.identity.principals import CurrentStaff, CurrentVolunteer
from app.ledger.errors import InsufficientBalance, RefundExceedsRemainder
from app.merchants import (
    codes,
    redemption,
    reservations,
    schemas,
    service,
    settlement,
    signing,
)
from app.merchants.access import CurrentMerchantActor
from app.merchants.errors import (
    CodeOfferNotFound,
    LocationRequired,
    MerchantNotActive,
    MerchantNotFound,
    MerchantOwnerRequired,
    MerchantStaffNotFound,
    MerchantStatusTransitionInvalid,
    MerchantSuspended,
    MerchantUsernameTaken,
    NotMerchantManager,
    NotMerchantMember,
    OfferDatesInvalid,
    OfferInactive,
    OfferLimitIncomplete,
    OfferLimitReached,
    OfferNotFound,
    OfferNotValidToday,
    OfferOutOfStock,
    PublicKeyInvalid,
    RedemptionNotFound,
    RedemptionNotSucceeded,
    RefundNoReused,
    RefundWindowClosed,
    ReservationNotFound,
    ReservationNotHeld,
    SettlementPeriodOpen,
    StarLevelTooLow,
    StatementNotReady,
    StationInvalid,
    TerminalNotFound,
    TerminalStatusTransitionInvalid,
)
from app.merchants.models import (
    MerchantCategory,
    MerchantStatus,
    RedemptionStatus,
    ReservationStatus,
    TerminalStatus,
)
from app.orgs.errors import CenterAdminRequired, UnitNotFound

router = APIRouter(prefix="/v1")

# Acting on one merchant: its managers, or its own staff.
ON_MERCHANT = (*AUTH_ERRORS, MerchantNotFound, NotMerchantManager, NotMerchantMember)
ON_MERCHANT_AS_OWNER = (*ON_MERCHANT, MerchantOwnerRequired)


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


# Offers


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


# Terminals


@router.post(
    "/merchants/{merchant_id}/terminals",
    tags=["terminals"],
    summary="Register a terminal; a generated private key is shown this once",
    description="With an `Idempotency-Key`, a retry answers the terminal registered the "
    "first time, without the private key: it is shown once and never stored.",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.TerminalRegistered,
    responses=error_responses(
        *ON_MERCHANT_AS_OWNER, *BODY_ERRORS, *OPTIONAL_IDEMPOTENCY_ERRORS, PublicKeyInvalid
    ),
)
async def register_terminal(
    merchant_id: uuid.UUID,
    body: schemas.TerminalCreate,
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
        run=lambda: service.register_terminal(
            session, actor=actor, merchant_id=merchant_id, data=body
        ),
        required=False,
        kept=lambda stored: {**stored, "private_key": None},
    )


@router.get(
    "/merchants/{merchant_id}/terminals",
    tags=["terminals"],
    summary="List a merchant's terminals, oldest first",
    responses=error_responses(*ON_MERCHANT_AS_OWNER, InvalidCursor),
)
async def list_terminals(
    merchant_id: uuid.UUID, session: SessionDep, actor: CurrentMerchantActor, page: PageDep
) -> Page[schemas.Terminal]:
    return await service.list_terminals(session, actor=actor, merchant_id=merchant_id, page=page)


_TERMINAL_CHANGE = error_responses(
    *ON_MERCHANT_AS_OWNER, TerminalNotFound, TerminalStatusTransitionInvalid
)


@router.post(
    "/merchants/{merchant_id}/terminals/{terminal_id}/suspend",
    tags=["terminals"],
    summary="Suspend a terminal: refused until resumed",
    responses=_TERMINAL_CHANGE,
)
async def suspend_terminal(
    merchant_id: uuid.UUID, terminal_id: uuid.UUID, session: SessionDep, actor: CurrentMerchantActor
) -> schemas.Terminal:
    return await service.set_terminal_status(
        session,
        actor=actor,
        merchant_id=merchant_id,
        terminal_id=terminal_id,
        status=TerminalStatus.suspended,
    )


@router.post(
    "/merchants/{merchant_id}/terminals/{terminal_id}/resume",
    tags=["terminals"],
    summary="Resume a suspended terminal",
    responses=_TERMINAL_CHANGE,
)
async def resume_terminal(
    merchant_id: uuid.UUID, terminal_id: uuid.UUID, session: SessionDep, actor: CurrentMerchantActor
) -> schemas.Terminal:
    return await service.set_terminal_status(
        session,
        actor=actor,
        merchant_id=merchant_id,
        terminal_id=terminal_id,
        status=TerminalStatus.active,
    )


@router.post(
    "/merchants/{merchant_id}/terminals/{terminal_id}/revoke",
    tags=["terminals"],
    summary="Revoke a terminal for good; its next request is refused",
    responses=_TERMINAL_CHANGE,
)
async def revoke_terminal(
    merchant_id: uuid.UUID, terminal_id: uuid.UUID, session: SessionDep, actor: CurrentMerchantActor
) -> schemas.Terminal:
    return await service.set_terminal_status(
        session,
        actor=actor,
        merchant_id=merchant_id,
        terminal_id=terminal_id,
        status=TerminalStatus.revoked,
    )


# Refunds, statements


@router.post(
    "/merchants/{merchant_id}/redemptions/{redemption_id}/refunds",
    tags=["redemptions"],
    summary="Refund part or all of a redemption, once per refund_no",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        *ON_MERCHANT_AS_OWNER,
        *BODY_ERRORS,
        RedemptionNotFound,
        RedemptionNotSucceeded,
        RefundWindowClosed,
        RefundExceedsRemainder,
        RefundNoReused,
        InsufficientBalance,
    ),
)
async def refund_redemption(
    merchant_id: uuid.UUID,
    redemption_id: uuid.UUID,
    body: schemas.RefundRequest,
    session: SessionDep,
    actor: CurrentMerchantActor,
) -> schemas.Refund:
    return await redemption.refund(
        session, actor=actor, merchant_id=merchant_id, redemption_id=redemption_id, data=body
    )


@router.get(
    "/merchants/{merchant_id}/statements/{day}",
    tags=["settlement"],
    summary="A day's statement (region time), as JSON or CSV; provisional for today",
    description="The region's current day gives a provisional statement (`provisional`: "
    "true, no digest): lines may still join it. From the next day on the statement is "
    "final and `X-Statement-SHA256` carries the SHA-256 of its CSV. A day the region has "
    "not reached is refused with `statement_not_ready`, naming the region's date.",
    response_model=schemas.Statement,
    responses={
        200: {
            "description": "The statement; `X-Statement-SHA256` (final statements only) is "
            "the SHA-256 of its CSV",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **error_responses(*ON_MERCHANT_AS_OWNER, StatementNotReady),
    },
)
async def get_merchant_statement(
    merchant_id: uuid.UUID,
    day: date,
    session: SessionDep,
    actor: CurrentMerchantActor,
    output: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    accept: Annotated[str | None, Header(max_length=512)] = None,
) -> Response:
    result, body = await settlement.statement(
        session, actor=actor, merchant_id=merchant_id, day=day
    )
    digest = {"X-Statement-SHA256": result.csv_sha256} if result.csv_sha256 else {}
    if output == "csv" or (output is None and "text/csv" in (accept or "")):
        name = f"statement-{merchant_id}-{day}{'-provisional' if result.provisional else ''}"
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                **digest,
                "Content-Digest": signing.content_digest(body.encode()),
                "Content-Disposition": f'attachment; filename="{name}.csv"',
            },
        )
    return Response(result.model_dump_json(), media_type="application/json", headers=digest)


@router.get(
    "/merchants/{merchant_id}/redemptions",
    tags=["settlement"],
    summary="A merchant's redemption attempts, newest first (its managers, owner, cashiers)",
    description="Filter by business `day` in the region's time zone (a day the region has "
    "not reached is refused with `statement_not_ready`), by terminal and by outcome. "
    "Refusals are listed too, with their code; no balance of anyone appears.",
    responses=error_responses(*ON_MERCHANT, InvalidCursor, StatementNotReady),
)
async def list_merchant_redemptions(
    merchant_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentMerchantActor,
    page: PageDep,
    day: Annotated[date | None, Query(description="A business day, region time")] = None,
    terminal_id: uuid.UUID | None = None,
    outcome: Annotated[RedemptionStatus | None, Query(alias="status")] = None,
) -> Page[schemas.Receipt]:
    return await settlement.redemptions(
        session,
        actor=actor,
        merchant_id=merchant_id,
        day=day,
        terminal_id=terminal_id,
        status=outcome,
        page=page,
    )


# The region's merchant policy


@router.get(
    "/regions/{region_id}/merchant-policy",
    tags=["merchants"],
    summary="Read the region's merchant policy (refund window)",
    responses=error_responses(*AUTH_ERRORS, NotFound),
)
async def get_merchant_policy(
    region_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> schemas.MerchantPolicy:
    return await service.get_policy(session, staff=staff, region_id=region_id)


@router.put(
    "/regions/{region_id}/merchant-policy",
    tags=["merchants"],
    summary="Set the region's merchant policy (center admin)",
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, NotFound, CenterAdminRequired),
)
async def set_merchant_policy(
    region_id: uuid.UUID,
    body: schemas.MerchantPolicyUpdate,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.MerchantPolicy:
    return await service.set_policy(session, staff=staff, region_id=region_id, data=body)


# The volunteer's codes


@router.post(
    "/me/redemption-codes",
    tags=["me"],
    summary="A fresh 60-second redemption code with its QR image; the previous one retires",
    description="Without a body the code pays any amount the balance covers. With "
    "`max_amount` a terminal asking more is refused; with `offer_id` it pays for that offer "
    "only. A code is spent by its first use that reaches the volunteer, refused or not. "
    "With an `Idempotency-Key`, a retry answers the same code (expired after 60 s).",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.RedemptionCodeOut,
    responses=error_responses(
        *AUTH_ERRORS, *BODY_ERRORS, *OPTIONAL_IDEMPOTENCY_ERRORS, CodeOfferNotFound
    ),
)
@limited(
    Limit("redemption-code.principal", "principal", "6/minute"),
    Limit("redemption-code.ip", "ip", "300/minute"),
)
async def create_redemption_code(
    request: Request,
    session: SessionDep,
    volunteer: CurrentVolunteer,
    body: schemas.RedemptionCodeCreate | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=f"volunteer:{volunteer.id}",
        key=idempotency_key,
        payload=body,
        status_code=status.HTTP_201_CREATED,
        run=lambda: codes.new_code_for(session, volunteer=volunteer, data=body),
        required=False,
    )


@router.post(
    "/me/offline-code-secret",
    tags=["me"],
    summary="Provision the wallet's offline-code secret (shown once; a new call replaces it)",
    description="`max_amount` bounds every offline code of the wallet until the next "
    "provisioning; without it, offline codes pay any amount the balance covers.",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS),
)
async def provision_offline_code_secret(
    session: SessionDep,
    volunteer: CurrentVolunteer,
    body: schemas.OfflineCodeSecretCreate | None = None,
) -> schemas.OfflineCodeSecret:
    return await codes.offline_secret_for(session, volunteer=volunteer, data=body)


# Reservations for pick-up

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
    idempotency_key: IdempotencyKeyHeader = None,
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
