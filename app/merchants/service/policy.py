"""The region's merchant policy: the refund window."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.errors import NotFound
from app.identity.principals import StaffContext
from app.merchants import repository, schemas
from app.merchants.models import DEFAULT_REFUND_WINDOW_DAYS, MerchantPolicy
from app.orgs.authz import require_center_admin

# The region's merchant policy


async def refund_window_days(session: AsyncSession, *, region_id: uuid.UUID) -> int:
    days = await repository.refund_window_days(session, region_id=region_id)
    return DEFAULT_REFUND_WINDOW_DAYS if days is None else days


async def get_policy(
    session: AsyncSession, *, staff: StaffContext, region_id: uuid.UUID
) -> schemas.MerchantPolicy:
    if region_id != staff.region_id:
        raise NotFound("The region does not exist")
    policy = await repository.policy(session, region_id=region_id)
    return schemas.MerchantPolicy(
        region_id=region_id,
        refund_window_days=(
            policy.refund_window_days if policy is not None else DEFAULT_REFUND_WINDOW_DAYS
        ),
        is_default=policy is None,
    )


async def set_policy(
    session: AsyncSession,
    *,
    staff: StaffContext,
    region_id: uuid.UUID,
    data: schemas.MerchantPolicyUpdate,
) -> schemas.MerchantPolicy:
    if region_id != staff.region_id:
        raise NotFound("The region does not exist")
    require_center_admin(staff)
    policy = await repository.policy(session, region_id=region_id)
    if policy is None:
        policy = MerchantPolicy(region_id=region_id)
        session.add(policy)
    policy.refund_window_days = data.refund_window_days
    policy.updated_at = clock.now()
    policy.updated_by_id = staff.id
    await session.flush()
    return schemas.MerchantPolicy(
        region_id=region_id, refund_window_days=policy.refund_window_days, is_default=False
    )
