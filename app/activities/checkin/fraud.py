"""The likely frauds that refuse a check-in and are kept for the organizer: an attendance
still open elsewhere, and travel from the last place seen faster than possible."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import geo, repository
from app.activities.checkin.checks import Position
from app.activities.errors import ImpossibleTravel, OverlappingAttendance
from app.activities.models import AttendanceMethod, CheckinRefusal
from app.activities.repository import CheckinContext, RecentAttendance


def _last_seen(recent: list[RecentAttendance], *, since: datetime) -> tuple[float, float] | None:
    """Where the volunteer last checked in or out within the hour, if anywhere."""
    seen: list[tuple[datetime, float, float]] = []
    for r in recent:
        a = r.attendance
        if a.checked_in_at >= since:
            seen.append(
                (
                    a.checked_in_at,
                    a.checkin_latitude if a.checkin_latitude is not None else r.activity_latitude,
                    a.checkin_longitude
                    if a.checkin_longitude is not None
                    else r.activity_longitude,
                )
            )
        # An automatic close says nothing about where the volunteer was.
        if (
            a.checked_out_at is not None
            and a.checked_out_at >= since
            and a.checkout_method != AttendanceMethod.auto_close
        ):
            seen.append(
                (
                    a.checked_out_at,
                    a.checkout_latitude if a.checkout_latitude is not None else r.activity_latitude,
                    a.checkout_longitude
                    if a.checkout_longitude is not None
                    else r.activity_longitude,
                )
            )
    if not seen:
        return None
    _, lat, lng = max(seen, key=lambda s: s[0])
    return lat, lng


async def refuse_likely_fraud(
    session: AsyncSession,
    *,
    ctx: CheckinContext,
    volunteer_id: uuid.UUID,
    recent: list[RecentAttendance],
    here: Position,
    now: datetime,
) -> None:
    activity = ctx.activity
    elsewhere = [r for r in recent if r.attendance.activity_id != activity.id]
    still_open = [
        r for r in elsewhere if r.attendance.checked_out_at is None and r.activity_ends_at > now
    ]
    if still_open:
        other = still_open[0].attendance.activity_id
        await _record_refusal(
            session,
            ctx=ctx,
            volunteer_id=volunteer_id,
            reason=OverlappingAttendance.code,
            here=here,
            now=now,
            detail={"other_activity_id": str(other)},
        )
        raise OverlappingAttendance(other_activity_id=str(other))
    last = _last_seen(elsewhere, since=now - repository.RECENT)
    if last is None:
        return
    distance_km = geo.haversine_m(last[0], last[1], here.latitude, here.longitude) / 1000
    if distance_km > ctx.policy.impossible_travel_km:
        await _record_refusal(
            session,
            ctx=ctx,
            volunteer_id=volunteer_id,
            reason=ImpossibleTravel.code,
            here=here,
            now=now,
            detail={"distance_km": round(distance_km, 1)},
        )
        raise ImpossibleTravel(distance_km=round(distance_km, 1))


async def _record_refusal(
    session: AsyncSession,
    *,
    ctx: CheckinContext,
    volunteer_id: uuid.UUID,
    reason: str,
    here: Position,
    now: datetime,
    detail: dict[str, Any],
) -> None:
    session.add(
        CheckinRefusal(
            region_id=ctx.activity.region_id,
            activity_id=ctx.activity.id,
            volunteer_id=volunteer_id,
            reason=reason,
            latitude=here.latitude,
            longitude=here.longitude,
            accuracy=here.accuracy,
            detail=detail,
            at=now,
        )
    )
    await session.flush()
