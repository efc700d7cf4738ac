"""Queries of `app.rewards` that its service shares with the adjustments sub-package."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.rewards.adjustments.models import POSTED_STATUSES, Adjustment
from app.rewards.models import RewardIssuance


async def issued_for_hours(session: AsyncSession, *, region_id: uuid.UUID, year: int) -> int:
    """The net 良票 issued for hours in a budget year: issuance less claw-backs."""
    total = await session.scalar(
        select(
            func.coalesce(func.sum(RewardIssuance.issued - RewardIssuance.clawed_back), 0)
        ).where(RewardIssuance.region_id == region_id, RewardIssuance.budget_year == year)
    )
    return int(total or 0)


async def issued_by_adjustments(session: AsyncSession, *, region_id: uuid.UUID, year: int) -> int:
    """The net 良票 that posted adjustments moved out of the region's issuance account."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Adjustment.issuance_delta), 0)).where(
            Adjustment.region_id == region_id,
            Adjustment.budget_year == year,
            Adjustment.status.in_(POSTED_STATUSES),
        )
    )
    return int(total or 0)
