"""HTTP routes of the volunteer's redemption codes."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, error_responses
from app.core.idempotency import OPTIONAL_IDEMPOTENCY_ERRORS, IdempotencyKeyHeader, idempotent
from app.core.ratelimit import Limit, limited
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentVolunteer
from app.merchants import codes, schemas
from app.merchants.errors import CodeOfferNotFound

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


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
