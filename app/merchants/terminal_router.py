"""HTTP routes of terminals at the counter: redeem, ask what became of an attempt, void.

Every request is signed by the terminal (see `app.merchants.signing`); there is no
bearer token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from app.core.db import SessionDep
from app.core.errors import MalformedBody, UnsupportedMediaType, ValidationFailed, error_responses
from app.core.ratelimit import Limit, limited
from app.core.routing import QueryCheckedRoute
from app.ledger.errors import InsufficientBalance
from app.merchants import redemption, reservations, schemas
from app.merchants.errors import (
    CodeExpired,
    CodeLimitExceeded,
    CodeMalformed,
    CodeOfferMismatch,
    CodeOtherRegion,
    CodeRetired,
    CodeUnknown,
    CodeUsed,
    MerchantNotActive,
    MerchantSuspended,
    OfferInactive,
    OfferLimitReached,
    OfferNotValidToday,
    OfferOutOfStock,
    OfferUnavailable,
    RedemptionAlreadyRefunded,
    RedemptionNotFound,
    RedemptionNotSucceeded,
    RequestNoReused,
    ReservationExpired,
    ReservationNotFound,
    StarLevelTooLow,
    VoidWindowClosed,
)
from app.merchants.terminal_auth import TERMINAL_AUTH_ERRORS, CurrentTerminal

router = APIRouter(prefix="/v1/terminal", tags=["terminal"], route_class=QueryCheckedRoute)

RequestNoPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]

SIGNED = """Signed by the terminal (RFC 9421 HTTP Message Signatures, Ed25519):
`Content-Digest: sha-256=:<base64>:` (of the exact body, empty included),
`Signature-Input: sig1=("@method" "@path" "@query" "content-digest");created=<unix s>;\
nonce="<16-64 of A-Za-z0-9_->";keyid="<terminal id>";alg="ed25519"` and
`Signature: sig1=:<base64>:`. Refused: a bad signature or digest, a timestamp more than
300 s from the server's clock, a nonce used before, a suspended or revoked terminal."""


@router.post(
    "/redemptions",
    summary="Redeem a volunteer's code for an offer or an amount, once per request_no",
    description=SIGNED
    + "\n\nThe same `request_no` replays the stored outcome (a refusal too); another "
    "body under it is refused. A refused redemption moves no 良票, but a code that reached "
    "its volunteer is spent by the attempt, refused or not: the volunteer makes a new one. "
    "Neither a receipt nor a refusal tells the volunteer's balance.",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        *TERMINAL_AUTH_ERRORS,
        MalformedBody,
        UnsupportedMediaType,
        ValidationFailed,
        RequestNoReused,
        MerchantNotActive,
        MerchantSuspended,
        CodeMalformed,
        CodeUnknown,
        CodeExpired,
        CodeUsed,
        CodeRetired,
        CodeOtherRegion,
        CodeOfferMismatch,
        CodeLimitExceeded,
        OfferUnavailable,
        OfferInactive,
        OfferNotValidToday,
        OfferOutOfStock,
        OfferLimitReached,
        StarLevelTooLow,
        InsufficientBalance,
    ),
)
@limited(
    Limit("redemption.principal", "principal", "30/minute"),
    Limit("redemption.ip", "ip", "120/minute"),
)
async def redeem(
    body: schemas.RedemptionRequest, session: SessionDep, terminal: CurrentTerminal
) -> schemas.Receipt:
    return await redemption.redeem(session, terminal=terminal, data=body)


@router.get(
    "/redemptions/{request_no}",
    summary="What became of an attempt: succeeded, voided, refused and why, or unknown",
    description=SIGNED,
    responses=error_responses(*TERMINAL_AUTH_ERRORS, RedemptionNotFound),
)
async def get_redemption_result(
    request_no: RequestNoPath, session: SessionDep, terminal: CurrentTerminal
) -> schemas.Receipt:
    return await redemption.get_attempt(session, terminal=terminal, request_no=request_no)


@router.post(
    "/redemptions/{request_no}/void",
    summary="Void a redemption on its business day (region time); repeating it is harmless",
    description=SIGNED,
    responses=error_responses(
        *TERMINAL_AUTH_ERRORS,
        RedemptionNotFound,
        RedemptionNotSucceeded,
        RedemptionAlreadyRefunded,
        VoidWindowClosed,
        InsufficientBalance,
    ),
)
async def void_redemption(
    request_no: RequestNoPath, session: SessionDep, terminal: CurrentTerminal
) -> schemas.Receipt:
    return await redemption.void(session, terminal=terminal, request_no=request_no)


# Pick-up codes are eight digits: a terminal guessing them meets this first.
@router.post(
    "/reservations/pickups",
    summary="Hand a reserved item over: the volunteer's pick-up code posts the held 良票",
    description=SIGNED
    + "\n\nThe code names an open reservation of this terminal's merchant; its hold is "
    "posted as a redemption (`code_kind` = `pickup`), which voids and refunds treat like "
    "any other. The same `request_no` replays the receipt.",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        *TERMINAL_AUTH_ERRORS,
        MalformedBody,
        UnsupportedMediaType,
        ValidationFailed,
        RequestNoReused,
        ReservationNotFound,
        ReservationExpired,
    ),
)
@limited(
    Limit("pickup.principal", "principal", "30/minute"),
    Limit("pickup.ip", "ip", "120/minute"),
)
async def pick_up_reservation(
    body: schemas.PickupRequest, session: SessionDep, terminal: CurrentTerminal
) -> schemas.Receipt:
    return await reservations.pick_up(session, terminal=terminal, data=body)
