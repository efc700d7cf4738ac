"""HTTP routes of `app.volunteers`: the caller's own profile, staff's masked view and
their verification of a volunteer's ID."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.core.db import SessionDep
from app.core.errors import (
    Forbidden,
    InsufficientScope,
    MalformedBody,
    TokenExpired,
    TokenInvalid,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    error_responses,
)
from app.core.routing import QueryCheckedRoute
from app.identity.principals import (
    CurrentClient,
    CurrentStaff,
    CurrentVolunteer,
    StaffContext,
    StaffOrClient,
)
from app.identity.scopes import client_scope
from app.volunteers import records, schemas, service
from app.volunteers.errors import IdNotClaimed, IdNumberInUse, IdNumberInvalid, VolunteerNotFound

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)

AUTH = (Unauthorized, TokenInvalid, TokenExpired, Forbidden)


@router.get(
    "/me",
    tags=["me"],
    summary="The caller's own profile, unmasked",
    responses=error_responses(*AUTH),
)
async def get_my_profile(volunteer: CurrentVolunteer) -> schemas.MyProfile:
    return service.my_profile(volunteer)


@router.patch(
    "/me",
    tags=["me"],
    summary="Change the caller's real-name profile",
    responses=error_responses(
        *AUTH,
        MalformedBody,
        UnsupportedMediaType,
        ValidationFailed,
        IdNumberInvalid,
    ),
)
async def update_my_profile(
    changes: schemas.ProfileUpdate, session: SessionDep, volunteer: CurrentVolunteer
) -> schemas.MyProfile:
    return await service.update_profile(session, volunteer=volunteer, changes=changes)


@router.get(
    "/volunteers/{volunteer_id}/record",
    tags=["volunteers"],
    summary="A volunteer's service record (志愿服务记录), without ID number or phone (clients)",
    description="For partner platforms with `records:read`: any volunteer of the client's "
    "region. People read their own at `/v1/me/record`.",
    responses=error_responses(*AUTH, InsufficientScope, VolunteerNotFound),
)
@client_scope("records:read")
async def get_volunteer_record(
    volunteer_id: uuid.UUID, session: SessionDep, partner: CurrentClient
) -> schemas.PartnerServiceRecord:
    assert partner.region_id is not None  # current_client refuses a token without one
    return await records.service_record_for_partner(
        session, region_id=partner.region_id, volunteer_id=volunteer_id
    )


@router.get(
    "/volunteers/{volunteer_id}",
    tags=["volunteers"],
    summary="A volunteer of the caller's region, ID number and phone masked (staff)",
    description="Staff see the volunteers their roles reach, ID number and phone masked; "
    "an OAuth client with `volunteers:read` sees any of its region's, without either.",
    responses=error_responses(*AUTH, InsufficientScope, VolunteerNotFound),
)
@client_scope("volunteers:read")
async def get_volunteer(
    volunteer_id: uuid.UUID, session: SessionDep, reader: StaffOrClient
) -> schemas.Volunteer | schemas.VolunteerProfile:
    if isinstance(reader, StaffContext):
        return await service.get_for_staff(session, staff=reader, volunteer_id=volunteer_id)
    assert reader.region_id is not None  # a client's token always names its region
    return await service.get_for_client(
        session, region_id=reader.region_id, volunteer_id=volunteer_id
    )


@router.post(
    "/volunteers/{volunteer_id}/id-verification",
    tags=["volunteers"],
    summary="Verify the volunteer's ID number against the document they show (staff)",
    description="Staff who may read the volunteer verify the number the volunteer "
    "claims; until then it is a claim. Verifying a verified claim changes nothing.",
    responses=error_responses(*AUTH, VolunteerNotFound, IdNotClaimed, IdNumberInUse),
)
async def verify_volunteer_id(
    volunteer_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> schemas.Volunteer:
    return await service.verify_id(session, staff=staff, volunteer_id=volunteer_id)
