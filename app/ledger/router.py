"""HTTP routes of `app.ledger`: the volunteer's wallet, and the ledger for center admins
(accounts, transactions, statements, reversals). Manual adjustments, which the reward
policy's threshold and budget govern, are `app.rewards.adjustments`' routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.core.clock import Instant
from app.core.db import SessionDep
from app.core.errors import (
    AUTH_ERRORS,
    BODY_ERRORS,
    InvalidCursor,
    error_responses,
)
from app.core.idempotency import IDEMPOTENCY_ERRORS, RequiredIdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentStaff, CurrentVolunteer
from app.ledger import schemas, service
from app.ledger.errors import (
    AccountNotFound,
    AlreadyReversed,
    InsufficientBalance,
    NotReversible,
    ReversalExceedsRemainder,
    StatementTooLarge,
    TransactionNotFound,
)
from app.orgs.errors import CenterAdminRequired

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


@router.get(
    "/me/wallet",
    tags=["me"],
    summary="The caller's 良票: balance, unexpired lots and the next expiry",
    responses=error_responses(*AUTH_ERRORS),
)
async def get_my_wallet(session: SessionDep, volunteer: CurrentVolunteer) -> schemas.Wallet:
    return await service.my_wallet(session, volunteer=volunteer)


@router.get(
    "/me/wallet/transactions",
    tags=["me"],
    summary="The caller's wallet transactions, newest first, with counterpart and cause",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor),
)
async def list_my_wallet_transactions(
    session: SessionDep, volunteer: CurrentVolunteer, page: PageDep
) -> Page[schemas.WalletEntry]:
    return await service.my_wallet_entries(session, volunteer=volunteer, page=page)


@router.get(
    "/ledger/accounts/{account_id}",
    tags=["ledger"],
    summary="Read a ledger account and its balance (center admins)",
    responses=error_responses(*AUTH_ERRORS, CenterAdminRequired, AccountNotFound),
)
async def get_ledger_account(
    account_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> schemas.Account:
    return await service.account_for_staff(session, staff=staff, account_id=account_id)


@router.get(
    "/ledger/accounts/{account_id}/statement.csv",
    tags=["ledger"],
    summary="Export an account's statement as CSV, with a running balance (center admins)",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **error_responses(*AUTH_ERRORS, CenterAdminRequired, AccountNotFound, StatementTooLarge),
    },
)
async def export_ledger_statement(
    account_id: uuid.UUID,
    session: SessionDep,
    staff: CurrentStaff,
    since: Annotated[
        Instant | None, Query(description="From this instant (inclusive), RFC 3339")
    ] = None,
    until: Annotated[
        Instant | None, Query(description="Until this instant (exclusive), RFC 3339")
    ] = None,
) -> Response:
    body = await service.statement_csv(
        session, staff=staff, account_id=account_id, since=since, until=until
    )
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="statement-{account_id}.csv"'},
    )


@router.get(
    "/ledger/transactions/{transaction_id}",
    tags=["ledger"],
    summary="Read a ledger transaction and its postings (center admins)",
    responses=error_responses(*AUTH_ERRORS, CenterAdminRequired, TransactionNotFound),
)
async def get_ledger_transaction(
    transaction_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> schemas.Transaction:
    return await service.transaction_for_staff(session, staff=staff, transaction_id=transaction_id)


@router.post(
    "/ledger/transactions/{transaction_id}/reversals",
    tags=["ledger"],
    summary="Reverse a transaction, wholly or in part, once (center admins)",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Transaction,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *IDEMPOTENCY_ERRORS,
        CenterAdminRequired,
        TransactionNotFound,
        NotReversible,
        AlreadyReversed,
        ReversalExceedsRemainder,
        InsufficientBalance,
    ),
)
async def reverse_ledger_transaction(
    transaction_id: uuid.UUID,
    data: schemas.ReversalCreate,
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: RequiredIdempotencyKeyHeader,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=staff.scope_key,
        key=idempotency_key,
        payload=data,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.reverse_for_staff(
            session, staff=staff, transaction_id=transaction_id, data=data
        ),
    )
