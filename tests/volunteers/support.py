"""Helpers of the volunteer tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.activities.hours.support import approve, checkin_hours, make_activity

HOUR = 60


async def approved_hours(
    session: AsyncSession, client: Any, world: Any, volunteer: Any, minutes: int
) -> Any:
    """An activity of station X and the volunteer's approved check-in record of it."""
    activity = await make_activity(session, world.station_x, world.organizer_x, title="清洁家园")
    record = await checkin_hours(session, activity, volunteer, minutes=minutes)
    await approve(client, world.auth["organizer_x"], record.id)
    return activity, record
