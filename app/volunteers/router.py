"""HTTP routes of `app.volunteers`: the caller's own profile, staff's masked view and
their verification of a volunteer's ID."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.core.db import SessionDep
from app.core.errors import (
    Forbidden,
    MalformedBody,
    TokenExpired,
    TokenInvalid,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    error_responses,
)
from app.identity.principals import CurrentStaff, CurrentVolunteer
from app.volunteers import schemas, service
from app.volunteers.errors import IdNotClaimed, IdNumberInUse, IdNumberInvalid, VolunteerNotFound

router = APIRouter(prefix="/v1")

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
    "/volunteers/{volunteer_id}",
    tags=["volunteers"],
    summary="A volunteer of the caller's region, ID number and phone masked (staff)",
    responses=error_responses(*AUTH, VolunteerNotFound),
)
async def get_volunteer(
    volunteer_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> schemas.Volunteer:
    return await service.get_for_staff(session, staff=staff, volunteer_id=volunteer_id)


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
