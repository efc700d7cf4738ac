"""HTTP routes of a merchant's refunds, statements and redemptions, settlement, and the
region's merchant policy."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, InvalidCursor, NotFound, error_responses
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentStaff
from app.ledger.errors import InsufficientBalance, RefundExceedsRemainder
from app.merchants import redemption, schemas, service, settlement, signing
from app.merchants.access import CurrentMerchantActor
from app.merchants.errors import (
    ON_MERCHANT,
    ON_MERCHANT_AS_OWNER,
    RedemptionNotFound,
    RedemptionNotSucceeded,
    RefundNoReused,
    RefundWindowClosed,
    StatementNotReady,
)
from app.merchants.models import RedemptionStatus
from app.orgs.errors import CenterAdminRequired

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


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
