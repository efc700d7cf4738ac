"""The forgotten check-out job: once an activity's check-out window has closed, close
its open attendances (credited up to the scheduled end, flagged `auto_closed`) and
mark it finished.

Activities are claimed with `FOR UPDATE SKIP LOCKED`, so several workers may run.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.activities.checkin import finish
from app.activities.models import Activity, ActivityPolicy, ActivityStatus
from app.activities.repository import DEFAULT_POLICY
from app.core import clock

BATCH = 20


def _due(overrides: list[tuple[uuid.UUID, int]], *, now: datetime) -> ColumnElement[bool]:
    """Published activities whose check-out window, by their region's policy, has closed."""
    default_cutoff = now - timedelta(minutes=DEFAULT_POLICY.checkout_closes_after_min)
    overridden = [region_id for region_id, _ in overrides]
    default = Activity.ends_at <= default_cutoff
    if overridden:
        default = and_(Activity.region_id.not_in(overridden), default)
    return or_(
        default,
        *(
            and_(Activity.region_id == region_id, Activity.ends_at <= now - timedelta(minutes=m))
            for region_id, m in overrides
        ),
    )


async def close_forgotten_checkouts(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Finish up to `BATCH` due activities in one transaction; returns how many."""
    async with sessions() as session, session.begin():
        now = clock.now()
        overrides = [
            (region_id, minutes)
            for region_id, minutes in (
                await session.execute(
                    select(ActivityPolicy.region_id, ActivityPolicy.checkout_closes_after_min)
                )
            ).all()
        ]
        activities = (
            await session.scalars(
                select(Activity)
                .where(Activity.status == ActivityStatus.published, _due(overrides, now=now))
                .order_by(Activity.ends_at, Activity.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for activity in activities:
            await finish(session, activity=activity)
        return len(activities)
