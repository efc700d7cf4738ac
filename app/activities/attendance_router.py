"""The volunteer's own check-in and check-out on site: `/v1/activities/{id}/check-in`
and `/check-out`. A router of their own, matched before every other (app.main): a
Saturday morning's check-ins arrive in bursts, and FastAPI tries routes one by one."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from app.activities import checkin, repository, schemas
from app.activities.errors import (
    ActivityCancelled,
    ActivityNotFound,
    OrganizerScanRequired,
    OutOfRange,
)
from app.activities.router import CHECKIN_ERRORS, CHECKOUT_ERRORS, CODE_ERRORS
from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, error_responses
from app.core.idempotency import IDEMPOTENCY_ERRORS, RequiredIdempotencyKeyHeader, idempotent
from app.core.ratelimit import Limit, limited
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentVolunteerRef, VolunteerRef

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)

# Check-in and check-out share one counter, so a guesser gains nothing by alternating.
_ATTENDANCE = (
    Limit("attendance.principal", "principal", "10/minute"),
    Limit("attendance.ip", "ip", "600/minute"),  # a venue's whole crowd may share one NAT
)

# checkin.check_in or checkin.check_out.
Attend = Callable[..., Awaitable[schemas.Attendance]]
# The refusals both routes share.
ATTEND_ERRORS = (
    *AUTH_ERRORS,
    *BODY_ERRORS,
    *IDEMPOTENCY_ERRORS,
    ActivityNotFound,
    ActivityCancelled,
    *CODE_ERRORS,
    OutOfRange,
    OrganizerScanRequired,
)


async def _attend(
    attend: Attend,
    *,
    status_code: int,
    activity_id: uuid.UUID,
    data: schemas.CheckinRequest,
    request: Request,
    session: SessionDep,
    volunteer: VolunteerRef,
    idempotency_key: str | None,
) -> JSONResponse:
    """Once per key; the volunteer's attendance lock is taken with the key's claim."""
    return await idempotent(
        session,
        request,
        scope=volunteer.scope_key,
        key=idempotency_key,
        payload=data,
        status_code=status_code,
        then_lock=repository.volunteer_lock_key(volunteer.id),
        run=lambda: attend(
            session,
            volunteer=volunteer,
            activity_id=activity_id,
            data=data,
        ),
    )


@router.post(
    "/activities/{activity_id}/check-in",
    tags=["attendance"],
    summary="Check in on site with the activity's code and your position",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Attendance,
    responses=error_responses(*ATTEND_ERRORS, *CHECKIN_ERRORS),
)
@limited(*_ATTENDANCE)
async def check_in(
    activity_id: uuid.UUID,
    data: schemas.CheckinRequest,
    request: Request,
    session: SessionDep,
    volunteer: CurrentVolunteerRef,
    idempotency_key: RequiredIdempotencyKeyHeader,
) -> JSONResponse:
    return await _attend(
        checkin.check_in,
        status_code=status.HTTP_201_CREATED,
        activity_id=activity_id,
        data=data,
        request=request,
        session=session,
        volunteer=volunteer,
        idempotency_key=idempotency_key,
    )


@router.post(
    "/activities/{activity_id}/check-out",
    tags=["attendance"],
    summary="Check out on site: closes the attendance and records its hours (pending)",
    response_model=schemas.Attendance,
    responses=error_responses(*ATTEND_ERRORS, *CHECKOUT_ERRORS),
)
@limited(*_ATTENDANCE)
async def check_out(
    activity_id: uuid.UUID,
    data: schemas.CheckinRequest,
    request: Request,
    session: SessionDep,
    volunteer: CurrentVolunteerRef,
    idempotency_key: RequiredIdempotencyKeyHeader,
) -> JSONResponse:
    return await _attend(
        checkin.check_out,
        status_code=status.HTTP_200_OK,
        activity_id=activity_id,
        data=data,
        request=request,
        session=session,
        volunteer=volunteer,
        idempotency_key=idempotency_key,
    )
