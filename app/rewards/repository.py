"""The SQL of `app.rewards`: the region's policy row and its lock, the issuance rows of
hours records, and the sums that caps and the budget compare with. The adjustments
sub-package shares the policy and the budget's sums."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core import clock
from app.core.db import session_insert
from app.rewards.adjustments.models import POSTED_STATUSES, Adjustment
from app.rewards.models import (
    DEFAULT_EARNING_SOURCES,
    DEFAULT_RATE_PER_HOUR,
    RewardIssuance,
    RewardPolicy,
)


async def find_policy(session: AsyncSession, region_id: uuid.UUID) -> RewardPolicy | None:
    return await session.scalar(select(RewardPolicy).where(RewardPolicy.region_id == region_id))


async def lock_policy(session: AsyncSession, region_id: uuid.UUID) -> RewardPolicy:
    """The region's policy row, created with the defaults if absent, locked for update."""
    await session.execute(
        session_insert(session)(RewardPolicy)
        .values(
            id=uuid.uuid4(),
            region_id=region_id,
            rate_per_hour=DEFAULT_RATE_PER_HOUR,
            earning_sources=[s.value for s in DEFAULT_EARNING_SOURCES],
            updated_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=[RewardPolicy.region_id])
    )
    policy = await session.scalar(
        select(RewardPolicy)
        .where(RewardPolicy.region_id == region_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert policy is not None
    return policy


async def issuance_of(
    session: AsyncSession, *, region_id: uuid.UUID, hours_record_id: uuid.UUID
) -> RewardIssuance | None:
    """The issuance for an hours record, if it was issued."""
    return await session.scalar(
        select(RewardIssuance).where(
            RewardIssuance.hours_record_id == hours_record_id,
            RewardIssuance.region_id == region_id,
        )
    )


async def issuance_superseding(
    session: AsyncSession, *, region_id: uuid.UUID, hours_record_id: uuid.UUID
) -> RewardIssuance | None:
    """The issuance of the correction that supersedes an hours record, if it was issued."""
    return await session.scalar(
        select(RewardIssuance).where(
            RewardIssuance.supersedes_hours_record_id == hours_record_id,
            RewardIssuance.region_id == region_id,
        )
    )


class Scope(StrEnum):
    """What a cap counts over: one activity, one service day, one service year."""

    activity = "activity"
    day = "day"
    year = "year"


_SCOPE_COLUMNS: dict[Scope, InstrumentedAttribute[Any]] = {
    Scope.activity: RewardIssuance.activity_id,
    Scope.day: RewardIssuance.service_date,
    Scope.year: RewardIssuance.service_year,
}


async def held_in_scopes(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    excluding_id: uuid.UUID | None,
    scopes: Sequence[tuple[Scope, uuid.UUID | date | int]],
) -> list[int]:
    """What the volunteer holds from live (not superseded) issuances, leaving out
    `excluding_id`, in each of `scopes` (the scope and its activity, day or year): one
    query, one sum per scope."""
    if not scopes:
        return []
    mine: list[ColumnElement[bool]] = [
        RewardIssuance.region_id == region_id,
        RewardIssuance.volunteer_id == volunteer_id,
    ]
    if excluding_id is not None:
        mine.append(RewardIssuance.id != excluding_id)
    conditions = [_SCOPE_COLUMNS[scope] == value for scope, value in scopes]
    held = RewardIssuance.granted + RewardIssuance.shortfall
    totals = (
        await session.execute(
            select(
                *(func.coalesce(func.sum(case((scope, held), else_=0)), 0) for scope in conditions)
            )
            .where(RewardIssuance.superseded_by_id.is_(None), *mine)
            .where(or_(*conditions))
        )
    ).one()
    return [int(total) for total in totals]


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
