"""The region's check-in policy: its windows, daily cap and fraud thresholds."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository, schemas
from app.identity.principals import StaffContext
from app.orgs.authz import require_center_admin


def policy_out(policy: repository.Policy) -> schemas.ActivityPolicy:
    return schemas.ActivityPolicy.model_validate(policy)


async def get_policy(session: AsyncSession, *, region_id: uuid.UUID) -> schemas.ActivityPolicy:
    return policy_out(await repository.policy_for(session, region_id=region_id))


async def open_policy(session: AsyncSession, *, region_id: uuid.UUID) -> None:
    """Give a new region its policy row: the defaults, and the key of its volunteers'
    personal codes."""
    await repository.policy_row(session, region_id=region_id)


async def update_policy(
    session: AsyncSession, *, staff: StaffContext, data: schemas.ActivityPolicyUpdate
) -> schemas.ActivityPolicy:
    require_center_admin(staff)
    row = await repository.policy_row(session, region_id=staff.region_id)
    for name in data.model_fields_set:
        value = getattr(data, name)
        if value is not None:
            setattr(row, name, value)
    await session.flush()
    return policy_out(repository.Policy.of(row))
