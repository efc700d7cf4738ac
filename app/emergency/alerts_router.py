"""HTTP routes of call-outs: `/v1/alerts`, the answers, the muster board and its live
stream."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, Forbidden, InvalidCursor, error_responses
from app.core.idempotency import OPTIONAL_IDEMPOTENCY_ERRORS, IdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.emergency import schemas, service
from app.emergency.errors import (
    AlertClosed,
    AlertFullyEscalated,
    AlertNeedsInvalid,
    AlertNotFound,
    GridNotFound,
    MusterByInvalid,
)
from app.emergency.stream import board_events
from app.identity.principals import (
    CurrentPrincipal,
    CurrentStaff,
    CurrentVolunteerRef,
    StaffContext,
    VolunteerRef,
    current_staff,
)

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


async def _alert_reader(
    principal: CurrentPrincipal, session: SessionDep
) -> StaffContext | VolunteerRef:
    """Staff, who run alerts, or a volunteer, whom alerts call."""
    if principal.kind == "staff":
        return await current_staff(principal, session)
    if principal.kind == "volunteer" and principal.region_id is not None:
        return VolunteerRef(id=principal.id, region_id=principal.region_id)
    raise Forbidden("This needs a volunteer's or a staff member's token")


AlertReader = Annotated[StaffContext | VolunteerRef, Depends(_alert_reader)]
STAFF_ON_ALERT = (*AUTH_ERRORS, AlertNotFound, AlertClosed)


@router.post(
    "/alerts",
    tags=["alerts"],
    summary="Call out the emergency teams of grids to a muster point",
    description="Every confirmed member of the grids is notified in this request; the "
    "muster's activity opens at the muster point (check in there with its code, no "
    "sign-up needed). Too few coming after `escalate_after_seconds` widens the call.",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Alert,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        GridNotFound,
        MusterByInvalid,
        AlertNeedsInvalid,
    ),
)
async def raise_alert(
    data: schemas.AlertCreate,
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    default_after = request.app.state.settings.emergency_escalate_after_seconds
    return await idempotent(
        session,
        request,
        scope=staff.scope_key,
        key=idempotency_key,
        payload=data,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.raise_alert(
            session, staff=staff, data=data, escalate_after_seconds=default_after
        ),
        required=False,
    )


@router.get(
    "/alerts",
    tags=["alerts"],
    summary="Alerts, newest first: staff those of units they reach, a volunteer those "
    "that called them",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor),
)
async def list_alerts(
    session: SessionDep, reader: AlertReader, page: PageDep
) -> Page[schemas.AlertSummary]:
    if isinstance(reader, StaffContext):
        return await service.list_alerts(
            session, region_id=reader.region_id, staff=reader, volunteer_id=None, page=page
        )
    return await service.list_alerts(
        session, region_id=reader.region_id, staff=None, volunteer_id=reader.id, page=page
    )


async def _board(
    session: AsyncSession, reader: StaffContext | VolunteerRef, alert_id: uuid.UUID
) -> schemas.Alert:
    if isinstance(reader, StaffContext):
        return await service.alert_for_staff_board(session, staff=reader, alert_id=alert_id)
    return await service.alert_for_volunteer_board(
        session, region_id=reader.region_id, volunteer_id=reader.id, alert_id=alert_id
    )


@router.get(
    "/alerts/{alert_id}",
    tags=["alerts"],
    summary="The alert and its muster board",
    description="Counts by answer and by skill (needed and coming). Staff also see who "
    "answered, with ETAs; a volunteer the alert called sees their own answer.",
    responses=error_responses(*AUTH_ERRORS, AlertNotFound),
)
async def get_alert(alert_id: uuid.UUID, session: SessionDep, reader: AlertReader) -> schemas.Alert:
    return await _board(session, reader, alert_id)


@router.get(
    "/alerts/{alert_id}/stream",
    tags=["alerts"],
    summary="The muster board live (text/event-stream)",
    description="An `event: board` with the board (as `GET /v1/alerts/{alert_id}` gives "
    "it to the caller) on connecting and after each change, its `id` the alert's "
    "version; `: heartbeat` comments while nothing changes; the stream ends after the "
    "board of a stood-down alert.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **error_responses(*AUTH_ERRORS, AlertNotFound),
    },
)
async def stream_alert(
    alert_id: uuid.UUID, request: Request, session: SessionDep, reader: AlertReader
) -> StreamingResponse:
    # Refusals are answered here, as problems; the stream reads on sessions of its own.
    await _board(session, reader, alert_id)
    return StreamingResponse(
        board_events(
            request.app.state.db.watch_sessions,
            alert_id=alert_id,
            board=lambda s: _board(s, reader, alert_id),
            is_disconnected=request.is_disconnected,
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.put(
    "/alerts/{alert_id}/response",
    tags=["alerts"],
    summary="Answer a call-out: coming (with an ETA) or not; the last answer counts",
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, AlertNotFound, AlertClosed),
)
async def answer_alert(
    alert_id: uuid.UUID,
    data: schemas.AnswerCreate,
    session: SessionDep,
    volunteer: CurrentVolunteerRef,
) -> schemas.MyAnswer:
    return await service.answer(
        session,
        region_id=volunteer.region_id,
        volunteer_id=volunteer.id,
        alert_id=alert_id,
        data=data,
    )


@router.post(
    "/alerts/{alert_id}/escalate",
    tags=["alerts"],
    summary="Widen the call now: the neighbouring grids, then the stations' volunteers",
    description="Each call widens the alert by one wave. With an `Idempotency-Key`, a "
    "retry answers what the first call did instead of calling the next wave.",
    response_model=schemas.Alert,
    responses=error_responses(*STAFF_ON_ALERT, *OPTIONAL_IDEMPOTENCY_ERRORS, AlertFullyEscalated),
)
async def escalate_alert(
    alert_id: uuid.UUID,
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
        payload={"alert_id": str(alert_id)},
        status_code=status.HTTP_200_OK,
        run=lambda: service.escalate(session, staff=staff, alert_id=alert_id),
        required=False,
    )


@router.post(
    "/alerts/{alert_id}/stand-down",
    tags=["alerts"],
    summary="Stand the call-out down: those coming are told, the muster closes",
    response_model=schemas.Alert,
    responses=error_responses(*STAFF_ON_ALERT, *BODY_ERRORS),
)
async def stand_down_alert(
    alert_id: uuid.UUID, data: schemas.StandDown, session: SessionDep, staff: CurrentStaff
) -> schemas.Alert:
    return await service.stand_down(session, staff=staff, alert_id=alert_id, reason=data.reason)
