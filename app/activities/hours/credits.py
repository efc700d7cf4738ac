"""Crediting hours by hand: a staff member's make-up hours for one volunteer who served
without an attendance, and an organizer's bulk credit of a finished activity.

Either is a pending record the staff member entered: another must approve it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities_service
from app.activities.hours import repository
from app.activities.hours.errors import (
    ActivityNotFinished,
    ActivityNotHeld,
    AlreadyCredited,
    OverActivityCap,
    OverDailyCap,
)
from app.activities.hours.models import (
    ActorKind,
    AuditAction,
    HoursRecord,
    HoursSource,
    HoursStatus,
)
from app.activities.hours.service import (
    activity_for_staff,
    audit,
    check_caps,
    daily_cap,
    lock_volunteers,
    service_date_of,
)
from app.activities.models import Activity, ActivityStatus
from app.core import clock
from app.identity.principals import StaffContext


def _entry(
    staff: StaffContext,
    *,
    activity: Activity,
    volunteer_id: uuid.UUID,
    source: HoursSource,
    minutes: int,
    service_date: date,
    reason: str,
    origin_key: str | None = None,
) -> HoursRecord:
    """A pending record the staff member entered: another must approve it."""
    return HoursRecord(
        id=uuid.uuid4(),
        region_id=activity.region_id,
        volunteer_id=volunteer_id,
        activity_id=activity.id,
        source=source,
        status=HoursStatus.pending,
        minutes=minutes,
        service_date=service_date,
        flags=[],
        reason=reason,
        created_by_kind=ActorKind.staff,
        created_by_id=staff.id,
        origin_key=origin_key,
    )


async def _write_entries(
    session: AsyncSession, staff: StaffContext, records: Sequence[HoursRecord], *, reason: str
) -> None:
    """Write the entered records, then the audit entry of each."""
    await repository.insert(session, *records)
    for record in records:
        audit(
            session,
            record,
            action=AuditAction.created,
            actor_kind=ActorKind.staff,
            actor_id=staff.id,
            from_status=None,
            reason=reason,
        )
    await session.flush()


async def add_makeup(
    session: AsyncSession,
    *,
    staff: StaffContext,
    volunteer_id: uuid.UUID,
    activity_id: uuid.UUID,
    minutes: int,
    reason: str,
) -> HoursRecord:
    """A pending `makeup` record for a volunteer who served but has no attendance."""
    activity = await activity_for_staff(session, staff=staff, activity_id=activity_id)
    if activity.status not in (ActivityStatus.published, ActivityStatus.finished) or (
        activity.starts_at > clock.now()
    ):
        raise ActivityNotHeld(f"The activity is {activity.status} and cannot be credited")
    await lock_volunteers(session, region_id=staff.region_id, volunteer_ids=[volunteer_id])
    service_date = await service_date_of(session, activity)
    await check_caps(
        session,
        activity=activity,
        volunteer_id=volunteer_id,
        minutes=minutes,
        service_date=service_date,
    )
    record = _entry(
        staff,
        activity=activity,
        volunteer_id=volunteer_id,
        source=HoursSource.makeup,
        minutes=minutes,
        service_date=service_date,
        reason=reason,
    )
    await _write_entries(session, staff, [record], reason=reason)
    return record


async def bulk_credit(
    session: AsyncSession,
    *,
    staff: StaffContext,
    activity_id: uuid.UUID,
    volunteer_ids: Sequence[uuid.UUID],
    minutes: int,
    reason: str,
) -> list[HoursRecord]:
    """Pending `bulk` records, one per volunteer, for a finished activity: all or none."""
    activity = await activity_for_staff(session, staff=staff, activity_id=activity_id)
    if activity.status != ActivityStatus.finished:
        raise ActivityNotFinished(f"The activity is {activity.status}")
    cap = activities_service.cap_minutes(activity)
    if minutes > cap:
        raise OverActivityCap(f"The activity credits at most {cap} minutes", cap_minutes=cap)
    await lock_volunteers(session, region_id=staff.region_id, volunteer_ids=volunteer_ids)
    credited = await repository.credited_on_activity_or_bulk(
        session, activity_id=activity.id, volunteer_ids=volunteer_ids
    )
    if credited:
        raise AlreadyCredited(
            "Some volunteers already have hours for this activity",
            volunteer_ids=sorted(str(v) for v in credited),
        )
    service_date = await service_date_of(session, activity)
    day_cap = await daily_cap(session, region_id=activity.region_id)
    on_day = await repository.credited_on_day_by_volunteer(
        session,
        region_id=activity.region_id,
        volunteer_ids=volunteer_ids,
        service_date=service_date,
    )
    over = [v for v in volunteer_ids if on_day.get(v, 0) + minutes > day_cap]
    if over:
        raise OverDailyCap(
            f"At most {day_cap} minutes a day", volunteer_ids=sorted(str(v) for v in over)
        )
    records = [
        _entry(
            staff,
            activity=activity,
            volunteer_id=volunteer_id,
            source=HoursSource.bulk,
            minutes=minutes,
            service_date=service_date,
            reason=reason,
            # The database refuses a second bulk credit of one volunteer for one activity.
            origin_key=f"bulk:{activity.id}:{volunteer_id}",
        )
        for volunteer_id in volunteer_ids
    ]
    await _write_entries(session, staff, records, reason=reason)
    return records
