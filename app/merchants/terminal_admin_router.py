"""HTTP routes that register a merchant's terminals and suspend, resume or revoke them.
The terminals' own signed routes are in `terminal_router`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from app.core.db import SessionDep
from app.core.errors import BODY_ERRORS, InvalidCursor, error_responses
from app.core.idempotency import OPTIONAL_IDEMPOTENCY_ERRORS, IdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.merchants import schemas, service
from app.merchants.access import CurrentMerchantActor
from app.merchants.errors import (
    ON_MERCHANT_AS_OWNER,
    PublicKeyInvalid,
    TerminalNotFound,
    TerminalStatusTransitionInvalid,
)
from app.merchants.models import TerminalStatus

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


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
