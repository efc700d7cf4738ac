"""HTTP routes of volunteer hours: decisions, make-up and bulk credits, corrections
and the volunteer's own hours."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from app.activities.errors import ActivityNotFound
from app.activities.hours import corrections, credits, decisions, reading
from app.activities.hours.errors import (
    ActivityNotFinished,
    ActivityNotHeld,
    AlreadyCredited,
    CorrectionAlreadyDecided,
    CorrectionAlreadyOpen,
    CorrectionNotFound,
    CorrectionUnchanged,
    HoursAlreadyDecided,
    HoursLocked,
    HoursNotCorrectable,
    HoursRecordNotFound,
    HoursSuperseded,
    OverActivityCap,
    OverDailyCap,
    OwnEntryApproval,
    ReasonRequired,
    VolunteerNotInRegion,
)
from app.activities.hours.models import HoursSource, HoursStatus
from app.activities.hours.schemas import (
    BulkCreditCreate,
    BulkCreditOut,
    BulkDecision,
    BulkDecisionOut,
    CorrectionAccepted,
    CorrectionCreate,
    CorrectionOut,
    CorrectionRefuse,
    HoursDetail,
    HoursListItem,
    HoursRecordOut,
    HoursReject,
    MakeupCreate,
    MyHours,
)
from app.core.db import SessionDep
from app.core.errors import (
    Forbidden,
    InsufficientScope,
    InvalidCursor,
    MalformedBody,
    TokenInvalid,
    UnsupportedMediaType,
    error_responses,
)
from app.core.idempotency import IDEMPOTENCY_ERRORS, RequiredIdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentStaff, CurrentVolunteer, StaffContext, StaffOrClient
from app.identity.scopes import client_scope
from app.orgs.errors import NotPermittedOnUnit, UnitNotFound

router = APIRouter(tags=["hours"], route_class=QueryCheckedRoute)


# Refusals of any route that reads a JSON body.
_BODY = (MalformedBody, UnsupportedMediaType)

# Refusals of any route that reads or decides a record on the staff member's units.
_STAFF_REACH = (Forbidden, TokenInvalid, ActivityNotFound, UnitNotFound, NotPermittedOnUnit)
_DECIDE = (*_STAFF_REACH, HoursRecordNotFound, HoursAlreadyDecided, HoursSuperseded)
_CORRECTION_DECISION = (
    *_STAFF_REACH,
    CorrectionNotFound,
    CorrectionAlreadyDecided,
    HoursRecordNotFound,
)


@router.get(
    "/v1/hours",
    summary="Hours records of activities on the units your roles reach (a client: the region's)",
    responses=error_responses(Forbidden, InsufficientScope, TokenInvalid, InvalidCursor),
)
@client_scope("hours:read")
async def list_hours(
    session: SessionDep,
    reader: StaffOrClient,
    page: PageDep,
    status_: Annotated[HoursStatus | None, Query(alias="status")] = None,
    source: HoursSource | None = None,
    activity_id: uuid.UUID | None = None,
    volunteer_id: uuid.UUID | None = None,
) -> Page[HoursListItem]:
    if isinstance(reader, StaffContext):
        return await reading.list_for_staff(
            session,
            staff=reader,
            page=page,
            status=status_,
            source=source,
            activity_id=activity_id,
            volunteer_id=volunteer_id,
        )
    assert reader.region_id is not None  # a client's token always names its region
    return await reading.list_for_region(
        session,
        region_id=reader.region_id,
        page=page,
        status=status_,
        source=source,
        activity_id=activity_id,
        volunteer_id=volunteer_id,
    )


@router.get(
    "/v1/hours/{record_id}",
    summary="One hours record with its corrections and audit trail",
    responses=error_responses(*_STAFF_REACH, InsufficientScope, HoursRecordNotFound),
)
@client_scope("hours:read")
async def get_hours_record(
    session: SessionDep, reader: StaffOrClient, record_id: uuid.UUID
) -> HoursDetail:
    if isinstance(reader, StaffContext):
        return await reading.detail_for_staff(session, staff=reader, record_id=record_id)
    assert reader.region_id is not None
    return await reading.detail_for_region(session, region_id=reader.region_id, record_id=record_id)


@router.post(
    "/v1/hours/{record_id}/approve",
    summary="Approve pending hours (locks them and announces `hours.approved`)",
    description="Whoever entered the hours (a make-up's or bulk credit's staff member) "
    "cannot approve them: `own_entry_approval`.",
    responses=error_responses(*_DECIDE, OwnEntryApproval),
)
async def approve_hours(
    session: SessionDep, staff: CurrentStaff, record_id: uuid.UUID
) -> HoursRecordOut:
    record = await decisions.approve(session, staff=staff, record_id=record_id)
    return HoursRecordOut.model_validate(record)


@router.post(
    "/v1/hours/{record_id}/reject",
    summary="Reject pending hours, with a reason",
    responses=error_responses(*_DECIDE, *_BODY, HoursLocked),
)
async def reject_hours(
    session: SessionDep, staff: CurrentStaff, record_id: uuid.UUID, body: HoursReject
) -> HoursRecordOut:
    record = await decisions.reject(session, staff=staff, record_id=record_id, reason=body.reason)
    return HoursRecordOut.model_validate(record)


@router.post(
    "/v1/hours/bulk-decisions",
    summary="Approve or reject many records; each is reported ok or with its problem code",
    description="Records the caller entered are not approved: their result is "
    "`ok: false` with `own_entry_approval`.",
    responses=error_responses(Forbidden, TokenInvalid, *_BODY, ReasonRequired),
)
async def decide_hours_in_bulk(
    session: SessionDep, staff: CurrentStaff, body: BulkDecision
) -> BulkDecisionOut:
    return await decisions.decide_many(
        session, staff=staff, ids=body.ids, decision=body.decision, reason=body.reason
    )


@router.post(
    "/v1/hours/makeup",
    summary="Add make-up hours for a volunteer, with a reason",
    status_code=status.HTTP_201_CREATED,
    response_model=HoursRecordOut,
    responses=error_responses(
        *_STAFF_REACH,
        *_BODY,
        *IDEMPOTENCY_ERRORS,
        ActivityNotHeld,
        VolunteerNotInRegion,
        OverActivityCap,
        OverDailyCap,
    ),
)
async def add_makeup_hours(
    session: SessionDep,
    staff: CurrentStaff,
    request: Request,
    body: MakeupCreate,
    idempotency_key: RequiredIdempotencyKeyHeader,
) -> JSONResponse:
    async def run() -> HoursRecordOut:
        record = await credits.add_makeup(
            session,
            staff=staff,
            volunteer_id=body.volunteer_id,
            activity_id=body.activity_id,
            minutes=body.minutes,
            reason=body.reason,
        )
        return HoursRecordOut.model_validate(record)

    return await idempotent(
        session,
        request,
        scope=staff.scope_key,
        key=idempotency_key,
        payload=body,
        status_code=status.HTTP_201_CREATED,
        run=run,
    )


@router.post(
    "/v1/activities/{activity_id}/bulk-credit",
    summary="Credit hours to many volunteers of a finished activity (source `bulk`)",
    status_code=status.HTTP_201_CREATED,
    tags=["activities"],
    responses=error_responses(
        *_STAFF_REACH,
        *_BODY,
        ActivityNotFinished,
        VolunteerNotInRegion,
        AlreadyCredited,
        OverActivityCap,
        OverDailyCap,
    ),
)
async def bulk_credit_hours(
    session: SessionDep, staff: CurrentStaff, activity_id: uuid.UUID, body: BulkCreditCreate
) -> BulkCreditOut:
    created = await credits.bulk_credit(
        session,
        staff=staff,
        activity_id=activity_id,
        volunteer_ids=body.volunteer_ids,
        minutes=body.minutes,
        reason=body.reason,
    )
    return BulkCreditOut(items=[HoursRecordOut.model_validate(r) for r in created])


@router.post(
    "/v1/hours/{record_id}/corrections",
    summary="Ask for a correction of your own hours, with a reason",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        Forbidden,
        TokenInvalid,
        *_BODY,
        HoursRecordNotFound,
        HoursSuperseded,
        HoursNotCorrectable,
        CorrectionUnchanged,
        CorrectionAlreadyOpen,
        OverActivityCap,
        OverDailyCap,
    ),
)
async def request_hours_correction(
    session: SessionDep, volunteer: CurrentVolunteer, record_id: uuid.UUID, body: CorrectionCreate
) -> CorrectionOut:
    correction = await corrections.request_correction(
        session, volunteer=volunteer, record_id=record_id, minutes=body.minutes, reason=body.reason
    )
    return CorrectionOut.model_validate(correction)


@router.post(
    "/v1/hours/corrections/{correction_id}/accept",
    summary="Accept a correction: a new linked record replaces the old, which is kept",
    description="The staff member who entered the corrected hours (or hours they "
    "replace) cannot accept it: `own_entry_approval`.",
    responses=error_responses(
        *_CORRECTION_DECISION,
        OwnEntryApproval,
        HoursSuperseded,
        HoursNotCorrectable,
        OverActivityCap,
        OverDailyCap,
    ),
)
async def accept_hours_correction(
    session: SessionDep, staff: CurrentStaff, correction_id: uuid.UUID
) -> CorrectionAccepted:
    correction, replacement = await corrections.accept_correction(
        session, staff=staff, correction_id=correction_id
    )
    return CorrectionAccepted(
        correction=CorrectionOut.model_validate(correction),
        replacement=HoursRecordOut.model_validate(replacement),
    )


@router.post(
    "/v1/hours/corrections/{correction_id}/refuse",
    summary="Refuse a correction, with a reason",
    responses=error_responses(*_CORRECTION_DECISION, *_BODY),
)
async def refuse_hours_correction(
    session: SessionDep, staff: CurrentStaff, correction_id: uuid.UUID, body: CorrectionRefuse
) -> CorrectionOut:
    correction = await corrections.refuse_correction(
        session, staff=staff, correction_id=correction_id, reason=body.reason
    )
    return CorrectionOut.model_validate(correction)


@router.get(
    "/v1/me/hours",
    summary="Your approved totals (by year, category, source) and your hours records",
    tags=["me"],
    responses=error_responses(Forbidden, TokenInvalid, InvalidCursor),
)
async def get_my_hours(
    session: SessionDep,
    volunteer: CurrentVolunteer,
    page: PageDep,
    status_: Annotated[HoursStatus | None, Query(alias="status")] = None,
) -> MyHours:
    return await reading.my_hours(session, volunteer=volunteer, page=page, status=status_)
