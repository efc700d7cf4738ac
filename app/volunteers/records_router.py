"""HTTP routes of the volunteer's service record and of the region's star thresholds."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.core.db import SessionDep
from app.core.errors import (
    Forbidden,
    MalformedBody,
    TokenInvalid,
    UnsupportedMediaType,
    error_responses,
)
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentPrincipal, CurrentStaff, CurrentVolunteer
from app.orgs.errors import CenterAdminRequired, RegionNotFound
from app.volunteers import records, stars
from app.volunteers.schemas import ServiceRecord, StarThresholdsOut, StarThresholdsUpdate

# These routes were published with the hours routes and keep their `hours` tag (and
# their place in the document, after them: see `app.main._routers`), so that the API
# document and the clients generated from it do not change.
router = APIRouter(tags=["hours"], route_class=QueryCheckedRoute)


@router.get(
    "/v1/me/record",
    summary="Your volunteer service record (志愿服务记录) with your star level",
    tags=["me"],
    responses=error_responses(Forbidden, TokenInvalid),
)
async def get_my_service_record(session: SessionDep, volunteer: CurrentVolunteer) -> ServiceRecord:
    return await records.service_record(session, volunteer=volunteer)


@router.get(
    "/v1/regions/{region_id}/star-levels",
    summary="The region's star thresholds (cumulative approved hours for stars 1 to 5)",
    tags=["regions"],
    responses=error_responses(TokenInvalid, RegionNotFound),
)
async def get_star_levels(
    session: SessionDep, principal: CurrentPrincipal, region_id: uuid.UUID
) -> StarThresholdsOut:
    return await stars.get_thresholds(
        session, region_id=region_id, caller_region_id=principal.region_id
    )


@router.put(
    "/v1/regions/{region_id}/star-levels",
    summary="Set the region's star thresholds (center admin)",
    tags=["regions"],
    responses=error_responses(
        Forbidden,
        TokenInvalid,
        MalformedBody,
        UnsupportedMediaType,
        RegionNotFound,
        CenterAdminRequired,
    ),
)
async def set_star_levels(
    session: SessionDep, staff: CurrentStaff, region_id: uuid.UUID, body: StarThresholdsUpdate
) -> StarThresholdsOut:
    return await stars.set_thresholds(session, staff=staff, region_id=region_id, hours=body.hours)
