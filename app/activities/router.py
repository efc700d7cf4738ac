"""HTTP routes of projects, activities, sign-ups, check-in codes and attendance:
`/v1/projects`, `/v1/activities`, `/v1/me/qr` and `/v1/activity-policy`."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.activities import checkin, codes, schemas, service
from app.activities.errors import (
    ActivityAlreadyStarted,
    ActivityCancelled,
    ActivityFieldRequired,
    ActivityFull,
    ActivityHasAttendances,
    ActivityNotEditable,
    ActivityNotEnded,
    ActivityNotFound,
    ActivityStateConflict,
    ActivityTeamInvalid,
    ActivityTimesInvalid,
    AlreadyCheckedIn,
    AlreadyCheckedOut,
    AlreadySignedUp,
    CapacityBelowSignups,
    CheckinCodeExpired,
    CheckinCodeInvalid,
    CheckinCodeWrongActivity,
    CheckinTooEarly,
    CheckinTooLate,
    CheckoutTooEarly,
    CheckoutTooLate,
    ImpossibleTravel,
    NotCheckedIn,
    NotSignedUp,
    OverlappingAttendance,
    PersonalCodeExpired,
    PersonalCodeInvalid,
    PersonalCodeUsed,
    ProjectNotFound,
    SignupCancelTooLate,
    SignupClosed,
    SignupNotFound,
    SignupNotOpen,
)
from app.activities.models import ActivityStatus
from app.core.clock import Instant
from app.core.db import SessionDep
from app.core.errors import (
    AUTH_ERRORS,
    BODY_ERRORS,
    Forbidden,
    InvalidCursor,
    error_responses,
)
from app.core.idempotency import (
    IDEMPOTENCY_ERRORS,
    OPTIONAL_IDEMPOTENCY_ERRORS,
    IdempotencyKeyHeader,
    RequiredIdempotencyKeyHeader,
    idempotent,
)
from app.core.pagination import Page, PageDep
from app.core.ratelimit import Limit, limited
from app.core.routing import QueryCheckedRoute
from app.identity.principals import (
    CurrentPrincipal,
    CurrentStaff,
    CurrentVolunteer,
    StaffContext,
    current_staff,
)
from app.identity.scopes import client_scope
from app.orgs.errors import CenterAdminRequired, NotPermittedOnUnit, UnitNotFound
from app.orgs.models import TeamCategory

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)

# Refusals of any route that acts on an activity as its organizer.
ORGANIZER = (*AUTH_ERRORS, ActivityNotFound, UnitNotFound, NotPermittedOnUnit)
CODE_ERRORS = (CheckinCodeInvalid, CheckinCodeExpired, CheckinCodeWrongActivity)
CHECKIN_ERRORS = (
    CheckinTooEarly,
    CheckinTooLate,
    NotSignedUp,
    ActivityFull,
    AlreadyCheckedIn,
    ImpossibleTravel,
    OverlappingAttendance,
)
CHECKOUT_ERRORS = (CheckoutTooEarly, CheckoutTooLate, NotCheckedIn, AlreadyCheckedOut)
CodeFormat = Annotated[
    Literal["json", "svg", "png"],
    Query(description="`json` (code and both images), or the QR image alone"),
]


def _region_of(principal: CurrentPrincipal) -> uuid.UUID:
    if principal.region_id is None:
        raise Forbidden("This needs a token of a region's user")
    return principal.region_id


RegionId = Annotated[uuid.UUID, Depends(_region_of)]


async def _staff_or_none(principal: CurrentPrincipal, session: SessionDep) -> StaffContext | None:
    if principal.kind != "staff":
        return None
    return await current_staff(principal, session)


OptionalStaff = Annotated[StaffContext | None, Depends(_staff_or_none)]


def _code_response(issued: codes.IssuedCode, format: str) -> Response:
    if format == "svg":
        return Response(codes.qr_svg(issued.code), media_type="image/svg+xml")
    if format == "png":
        return Response(codes.qr_png(issued.code), media_type="image/png")
    return JSONResponse(checkin.rotating_code_out(issued).model_dump(mode="json"))


_CODE_CONTENT = {
    "content": {
        "image/svg+xml": {"schema": {"type": "string"}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
    }
}


# Projects


@router.post(
    "/projects",
    tags=["projects"],
    summary="Create a project (项目库) on a unit your roles reach",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Project,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        UnitNotFound,
        NotPermittedOnUnit,
        ActivityTeamInvalid,
    ),
)
async def create_project(
    data: schemas.ProjectCreate,
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
        payload=data,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.create_project(session, staff=staff, data=data),
        required=False,
    )


@router.get(
    "/projects",
    tags=["projects"],
    summary="List the region's projects, by unit (with its subtree) or category",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor, UnitNotFound),
)
@client_scope("activities:read")
async def list_projects(
    session: SessionDep,
    region_id: RegionId,
    page: PageDep,
    unit_id: Annotated[uuid.UUID | None, Query(description="This unit and below")] = None,
    category: TeamCategory | None = None,
) -> Page[schemas.Project]:
    return await service.list_projects(
        session, region_id=region_id, unit_id=unit_id, category=category, page=page
    )


@router.get(
    "/projects/{project_id}",
    tags=["projects"],
    summary="Read a project",
    responses=error_responses(*AUTH_ERRORS, ProjectNotFound),
)
@client_scope("activities:read")
async def get_project(
    project_id: uuid.UUID, session: SessionDep, region_id: RegionId
) -> schemas.Project:
    return await service.get_project(session, region_id=region_id, project_id=project_id)


@router.patch(
    "/projects/{project_id}",
    tags=["projects"],
    summary="Change a project's title, description or category",
    responses=error_responses(
        *AUTH_ERRORS, *BODY_ERRORS, ProjectNotFound, UnitNotFound, NotPermittedOnUnit
    ),
)
async def update_project(
    project_id: uuid.UUID,
    data: schemas.ProjectUpdate,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.Project:
    return await service.update_project(session, staff=staff, project_id=project_id, data=data)


# Activities


@router.post(
    "/activities",
    tags=["activities"],
    summary="Create a draft activity on a unit your roles reach",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Activity,
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        UnitNotFound,
        NotPermittedOnUnit,
        ActivityTeamInvalid,
        ProjectNotFound,
        ActivityTimesInvalid,
    ),
)
async def create_activity(
    data: schemas.ActivityCreate,
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
        payload=data,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.create_activity(session, staff=staff, data=data),
        required=False,
    )


# `?lat=&lng=` are the names of the first release; `latitude` and `longitude` are what
# the rest of the API and wx.getLocation say. The old names answer for one more release,
# with RFC 9745's `Deprecation` header (the date they were deprecated) and a link to
# the operation's documentation.
DEPRECATED_POSITION = "@1796601600"  # 2026-12-07T00:00:00Z
DEPRECATION_LINK = '</docs#/activities/list_activities>; rel="deprecation"; type="text/html"'
_DEPRECATION_HEADERS = {
    "Deprecation": {
        "description": "Sent when the request used `lat`/`lng` (RFC 9745): the date they "
        "were deprecated; use `latitude`/`longitude`",
        "schema": {"type": "string", "example": DEPRECATED_POSITION},
    },
    "Link": {
        "description": 'With `Deprecation`: `rel="deprecation"`, where this is documented',
        "schema": {"type": "string"},
    },
}


@router.get(
    "/activities",
    tags=["activities"],
    summary="List activities: soonest first, or nearest first from ?latitude=&longitude=",
    description="Published activities by default. Staff may list `status=draft`: the drafts "
    "of units their roles reach. `lat` and `lng` are the deprecated names of `latitude` and "
    "`longitude`: still accepted for one release, answered with a `Deprecation` header.",
    responses={
        200: {"description": "A page of activities", "headers": _DEPRECATION_HEADERS},
        **error_responses(*AUTH_ERRORS, InvalidCursor, UnitNotFound),
    },
)
@client_scope("activities:read")
async def list_activities(
    session: SessionDep,
    region_id: RegionId,
    staff: OptionalStaff,
    page: PageDep,
    response: Response,
    unit_id: Annotated[uuid.UUID | None, Query(description="This unit and below")] = None,
    project_id: uuid.UUID | None = None,
    category: TeamCategory | None = None,
    activity_status: Annotated[ActivityStatus, Query(alias="status")] = ActivityStatus.published,
    starts_from: Annotated[
        Instant | None,
        Query(alias="from", description="Starting at or after; published ones default to now"),
    ] = None,
    starts_until: Annotated[
        Instant | None, Query(alias="to", description="Starting before")
    ] = None,
    latitude: Annotated[
        float | None,
        Query(ge=-90, le=90, description="With `longitude`: nearest first from this point"),
    ] = None,
    longitude: Annotated[
        float | None,
        Query(ge=-180, le=180, description="With `latitude`: nearest first from this point"),
    ] = None,
    lat: Annotated[
        float | None, Query(ge=-90, le=90, deprecated=True, description="Use `latitude`")
    ] = None,
    lng: Annotated[
        float | None, Query(ge=-180, le=180, deprecated=True, description="Use `longitude`")
    ] = None,
    within_km: Annotated[
        float,
        Query(gt=0, le=service.MAX_DISTANCE_KM, description="With a position: how far"),
    ] = 50.0,
) -> Page[schemas.Activity]:
    if lat is not None or lng is not None:
        response.headers["Deprecation"] = DEPRECATED_POSITION
        response.headers["Link"] = DEPRECATION_LINK
    if latitude is None and longitude is None:
        latitude, longitude = lat, lng
    filters = service.ActivityFilters(
        unit_id=unit_id,
        project_id=project_id,
        category=category,
        status=activity_status,
        starts_from=starts_from,
        starts_until=starts_until,
        lat=latitude if longitude is not None else None,
        lng=longitude if latitude is not None else None,
        within_km=within_km,
    )
    return await service.list_activities(
        session, region_id=region_id, staff=staff, filters=filters, page=page
    )


@router.get(
    "/activities/{activity_id}",
    tags=["activities"],
    summary="Read an activity",
    responses=error_responses(*ORGANIZER),
)
@client_scope("activities:read")
async def get_activity(
    activity_id: uuid.UUID, session: SessionDep, region_id: RegionId, staff: OptionalStaff
) -> schemas.Activity:
    return await service.get_activity_for(
        session, region_id=region_id, staff=staff, activity_id=activity_id
    )


@router.patch(
    "/activities/{activity_id}",
    tags=["activities"],
    summary="Change an activity; a published one's time and place only before it starts",
    responses=error_responses(
        *ORGANIZER,
        *BODY_ERRORS,
        ActivityNotEditable,
        ActivityFieldRequired,
        ActivityAlreadyStarted,
        ActivityTimesInvalid,
        ActivityTeamInvalid,
        ProjectNotFound,
        CapacityBelowSignups,
    ),
)
async def update_activity(
    activity_id: uuid.UUID,
    data: schemas.ActivityUpdate,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.Activity:
    return await service.update_activity(session, staff=staff, activity_id=activity_id, data=data)


@router.post(
    "/activities/{activity_id}/publish",
    tags=["activities"],
    summary="Publish a draft: volunteers can see it and sign up",
    responses=error_responses(*ORGANIZER, ActivityStateConflict, ActivityTimesInvalid),
)
async def publish_activity(
    activity_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> schemas.Activity:
    return await service.publish_activity(session, staff=staff, activity_id=activity_id)


@router.post(
    "/activities/{activity_id}/cancel",
    tags=["activities"],
    summary="Cancel a draft or published activity nobody has checked in to",
    responses=error_responses(
        *ORGANIZER, *BODY_ERRORS, ActivityStateConflict, ActivityHasAttendances
    ),
)
async def cancel_activity(
    activity_id: uuid.UUID,
    data: schemas.ActivityCancel,
    session: SessionDep,
    staff: CurrentStaff,
) -> schemas.Activity:
    return await service.cancel_activity(
        session, staff=staff, activity_id=activity_id, reason=data.reason
    )


@router.post(
    "/activities/{activity_id}/finish",
    tags=["activities"],
    summary="Finish an activity that has ended, closing forgotten check-outs",
    responses=error_responses(*ORGANIZER, ActivityStateConflict, ActivityNotEnded),
)
async def finish_activity(
    activity_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> schemas.Activity:
    return await checkin.finish_activity(session, staff=staff, activity_id=activity_id)


# Sign-ups


@router.post(
    "/activities/{activity_id}/signups",
    tags=["signups"],
    summary="Sign up for an activity (takes a place)",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Signup,
    responses=error_responses(
        *AUTH_ERRORS,
        *OPTIONAL_IDEMPOTENCY_ERRORS,
        ActivityNotFound,
        ActivityCancelled,
        SignupNotOpen,
        SignupClosed,
        AlreadySignedUp,
        ActivityFull,
    ),
)
async def sign_up(
    activity_id: uuid.UUID,
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
        payload=None,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.sign_up(session, volunteer=volunteer, activity_id=activity_id),
        required=False,
    )


@router.delete(
    "/activities/{activity_id}/signups",
    tags=["signups"],
    summary="Cancel your sign-up before the activity starts (frees the place)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        *AUTH_ERRORS, ActivityNotFound, SignupNotFound, SignupCancelTooLate, AlreadyCheckedIn
    ),
)
async def cancel_signup(
    activity_id: uuid.UUID, session: SessionDep, volunteer: CurrentVolunteer
) -> Response:
    await service.cancel_signup(session, volunteer=volunteer, activity_id=activity_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/activities/{activity_id}/signups",
    tags=["signups"],
    summary="List an activity's sign-ups (organizer)",
    responses=error_responses(*ORGANIZER, InvalidCursor),
)
async def list_signups(
    activity_id: uuid.UUID, session: SessionDep, staff: CurrentStaff, page: PageDep
) -> Page[schemas.SignupWithVolunteer]:
    return await service.list_signups(session, staff=staff, activity_id=activity_id, page=page)


# Codes, check-in and check-out


@router.get(
    "/activities/{activity_id}/checkin-code",
    tags=["attendance"],
    summary="The activity's rotating check-in code and its QR image (organizer's screen)",
    response_model=schemas.RotatingCode,
    responses={200: _CODE_CONTENT, **error_responses(*ORGANIZER, ActivityStateConflict)},
)
@limited(
    Limit("checkin-code.principal", "principal", "30/minute"),
    Limit("checkin-code.ip", "ip", "300/minute"),
)
async def get_checkin_code(
    activity_id: uuid.UUID,
    session: SessionDep,
    staff: CurrentStaff,
    format: CodeFormat = "json",
) -> Response:
    issued = await checkin.activity_code(session, staff=staff, activity_id=activity_id)
    return _code_response(issued, format)


@router.get(
    "/me/qr",
    tags=["attendance"],
    summary="Your rotating personal code, for an organizer to scan",
    response_model=schemas.RotatingCode,
    responses={200: _CODE_CONTENT, **error_responses(*AUTH_ERRORS)},
)
async def get_my_qr_code(
    session: SessionDep, volunteer: CurrentVolunteer, format: CodeFormat = "json"
) -> Response:
    issued = await checkin.personal_code(session, volunteer=volunteer)
    return _code_response(issued, format)


# An organizer scanning volunteers' personal codes: a queue at the door, one a second.
@router.post(
    "/activities/{activity_id}/attendances/scan",
    tags=["attendance"],
    summary="Check a volunteer in or out by scanning their personal code (organizer)",
    response_model=schemas.Attendance,
    responses=error_responses(
        *ORGANIZER,
        *BODY_ERRORS,
        *IDEMPOTENCY_ERRORS,
        ActivityCancelled,
        PersonalCodeInvalid,
        PersonalCodeExpired,
        PersonalCodeUsed,
        *CHECKIN_ERRORS,
        *CHECKOUT_ERRORS,
    ),
)
@limited(
    Limit("attendance-scan.principal", "principal", "60/minute"),
    Limit("attendance-scan.ip", "ip", "600/minute"),
)
async def scan_attendance(
    activity_id: uuid.UUID,
    data: schemas.ScanRequest,
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
        run=lambda: checkin.scan(session, staff=staff, activity_id=activity_id, data=data),
    )


@router.get(
    "/activities/{activity_id}/attendances",
    tags=["attendance"],
    summary="List an activity's attendances with their flags (organizer)",
    responses=error_responses(*ORGANIZER, InvalidCursor),
)
async def list_attendances(
    activity_id: uuid.UUID, session: SessionDep, staff: CurrentStaff, page: PageDep
) -> Page[schemas.AttendanceWithVolunteer]:
    return await checkin.list_attendances(session, staff=staff, activity_id=activity_id, page=page)


@router.get(
    "/activities/{activity_id}/checkin-refusals",
    tags=["attendance"],
    summary="List check-ins refused as likely fraud (organizer)",
    responses=error_responses(*ORGANIZER, InvalidCursor),
)
async def list_checkin_refusals(
    activity_id: uuid.UUID, session: SessionDep, staff: CurrentStaff, page: PageDep
) -> Page[schemas.CheckinRefusal]:
    return await checkin.list_refusals(session, staff=staff, activity_id=activity_id, page=page)


# The region's check-in policy


@router.get(
    "/activity-policy",
    tags=["attendance"],
    summary="The region's check-in windows, daily cap and fraud thresholds",
    responses=error_responses(*AUTH_ERRORS),
)
async def get_activity_policy(session: SessionDep, region_id: RegionId) -> schemas.ActivityPolicy:
    return await service.get_policy(session, region_id=region_id)


@router.patch(
    "/activity-policy",
    tags=["attendance"],
    summary="Change the region's check-in policy (center admin)",
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, CenterAdminRequired),
)
async def update_activity_policy(
    data: schemas.ActivityPolicyUpdate, session: SessionDep, staff: CurrentStaff
) -> schemas.ActivityPolicy:
    return await service.update_policy(session, staff=staff, data=data)
