"""HTTP routes of manual adjustments, under the ledger's paths (center admins)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, InvalidCursor, error_responses
from app.core.idempotency import IDEMPOTENCY_ERRORS, RequiredIdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentStaff
from app.ledger import schemas as ledger_schemas
from app.ledger.errors import (
    AccountKindNotAllowed,
    AccountNotFound,
    InsufficientBalance,
    InvalidPostings,
)
from app.orgs.errors import CenterAdminRequired
from app.rewards.adjustments import service
from app.rewards.adjustments.errors import (
    AdjustmentAlreadyDecided,
    AdjustmentNotFound,
    OwnAdjustmentApproval,
)
from app.rewards.adjustments.models import AdjustmentStatus
from app.rewards.adjustments.schemas import (
    Adjustment,
    AdjustmentApprove,
    AdjustmentCreate,
    AdjustmentRefuse,
)
from app.rewards.errors import BudgetExhausted

router = APIRouter(prefix="/v1/ledger/adjustments", tags=["ledger"], route_class=QueryCheckedRoute)

# Refusals of any posting: the accounts, their balance, the budget.
_POSTING = (AccountNotFound, AccountKindNotAllowed, InvalidPostings, InsufficientBalance)


def _created_or_accepted(result: BaseModel) -> int:
    return status.HTTP_202_ACCEPTED if isinstance(result, Adjustment) else status.HTTP_201_CREATED


@router.post(
    "",
    summary="Move 良票 between two named accounts, with a reason (center admins)",
    description="Within the region's `adjustment_threshold` (its reward policy) — per call "
    "and per account and region-local day of the same admin — the adjustment is posted "
    "at once: 201 with the ledger transaction. Above it nothing is posted: 202 with the "
    "pending adjustment, which another center admin approves or refuses. Posted "
    "adjustments count against the yearly budget (`budget_exhausted`).",
    status_code=status.HTTP_201_CREATED,
    response_model=ledger_schemas.Transaction,
    responses={
        202: {"model": Adjustment, "description": "Pending: awaits a second center admin"},
        **error_responses(
            *AUTH_ERRORS,
            *BODY_ERRORS,
            *IDEMPOTENCY_ERRORS,
            *_POSTING,
            CenterAdminRequired,
            BudgetExhausted,
        ),
    },
)
async def create_ledger_adjustment(
    data: AdjustmentCreate,
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
        status_code=_created_or_accepted,
        run=lambda: service.request(session, staff=staff, data=data),
    )


@router.get(
    "",
    summary="The region's adjustments, newest first; `status=pending` awaits approval",
    responses=error_responses(*AUTH_ERRORS, CenterAdminRequired, InvalidCursor),
)
async def list_ledger_adjustments(
    session: SessionDep,
    staff: CurrentStaff,
    page: PageDep,
    status_: Annotated[AdjustmentStatus | None, Query(alias="status")] = None,
) -> Page[Adjustment]:
    return await service.list_for_staff(session, staff=staff, status=status_, page=page)


@router.get(
    "/{adjustment_id}",
    summary="One adjustment: who asked, when and why, and who decided it",
    responses=error_responses(*AUTH_ERRORS, CenterAdminRequired, AdjustmentNotFound),
)
async def get_ledger_adjustment(
    adjustment_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> Adjustment:
    return await service.get(session, staff=staff, adjustment_id=adjustment_id)


@router.post(
    "/{adjustment_id}/approve",
    summary="Approve a pending adjustment, posting it once (another center admin)",
    response_model=Adjustment,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *IDEMPOTENCY_ERRORS,
        *_POSTING,
        CenterAdminRequired,
        AdjustmentNotFound,
        AdjustmentAlreadyDecided,
        OwnAdjustmentApproval,
        BudgetExhausted,
    ),
)
async def approve_ledger_adjustment(
    adjustment_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: RequiredIdempotencyKeyHeader,
    data: Annotated[AdjustmentApprove | None, Body()] = None,
) -> JSONResponse:
    reason = data.reason if data is not None else None
    return await idempotent(
        session,
        request,
        scope=staff.scope_key,
        key=idempotency_key,
        payload={"reason": reason},
        status_code=status.HTTP_200_OK,
        run=lambda: service.approve(
            session, staff=staff, adjustment_id=adjustment_id, reason=reason
        ),
    )


@router.post(
    "/{adjustment_id}/refuse",
    summary="Refuse a pending adjustment, with a reason (any center admin)",
    response_model=Adjustment,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *IDEMPOTENCY_ERRORS,
        CenterAdminRequired,
        AdjustmentNotFound,
        AdjustmentAlreadyDecided,
    ),
)
async def refuse_ledger_adjustment(
    adjustment_id: uuid.UUID,
    data: AdjustmentRefuse,
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
        status_code=status.HTTP_200_OK,
        run=lambda: service.refuse(
            session, staff=staff, adjustment_id=adjustment_id, reason=data.reason
        ),
    )
