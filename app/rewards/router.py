"""HTTP routes of `app.rewards`: the region's reward policy. Manual adjustments, which
the policy's threshold and budget govern, are `app.rewards.adjustments.router`'s."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.core.db import SessionDep
from app.core.errors import (
    AUTH_ERRORS,
    BODY_ERRORS,
    error_responses,
)
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentStaff
from app.orgs.errors import CenterAdminRequired, RegionNotFound
from app.rewards import service
from app.rewards.schemas import RewardPolicyOut, RewardPolicyUpdate

router = APIRouter(route_class=QueryCheckedRoute)


@router.get(
    "/v1/regions/{region_id}/reward-policy",
    summary="Read the region's reward policy",
    tags=["rewards"],
    response_model=RewardPolicyOut,
    responses=error_responses(*AUTH_ERRORS, RegionNotFound, CenterAdminRequired),
)
async def get_reward_policy(
    region_id: uuid.UUID, staff: CurrentStaff, session: SessionDep
) -> RewardPolicyOut:
    return await service.get_policy(session, staff=staff, region_id=region_id)


@router.put(
    "/v1/regions/{region_id}/reward-policy",
    summary="Set the region's reward policy",
    description="Replaces the whole policy. It applies to hours approved from now on; "
    "what was issued stays issued.",
    tags=["rewards"],
    response_model=RewardPolicyOut,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, RegionNotFound, CenterAdminRequired),
)
async def set_reward_policy(
    region_id: uuid.UUID, body: RewardPolicyUpdate, staff: CurrentStaff, session: SessionDep
) -> RewardPolicyOut:
    return await service.set_policy(session, staff=staff, region_id=region_id, update=body)
