"""Volunteer hours: what their use cases share, and what other features call.

Records are never deleted and, once decided, never edited: a correction adds a
record that supersedes the old one. Approving a record emits `hours.approved`
in the same transaction, which the reward policy turns into 良票.

Value needs two people (DESIGN.md §2.12): whoever entered a record (`created_by`:
the staff member of a make-up or bulk credit, the volunteer who asked for a
correction; a check-in record has no human author) cannot approve it, and the
staff member who entered a record cannot accept a correction of it either, since
accepting a correction of approved hours approves the replacement at once.

The use cases live beside this module: `decisions` (approve, reject, many at once),
`credits` (make-up and bulk credits), `corrections` (asked for, accepted, refused)
and `reading` (the staff's list, one record's history, the volunteer's own hours).
Here are the audit trail, the `hours.approved` event, the lookups and the caps they
share; the check-in record the attendance flow creates; and the approved service
that the volunteer's record and star level read (`app.volunteers`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository as activities_repository
from app.activities import service as activities_service
from app.activities.hours import repository
from app.activities.hours.errors import (
    HoursRecordNotFound,
    OverActivityCap,
    OverDailyCap,
    VolunteerNotInRegion,
)
from app.activities.hours.models import (
    CREDITED_STATUSES,
    ActorKind,
    AuditAction,
    HoursAudit,
    HoursCorrection,
    HoursRecord,
    HoursSource,
    HoursStatus,
)
from app.activities.models import Activity
from app.core import clock
from app.identity.principals import StaffContext
from app.integrations import outbox
from app.orgs.models import TeamCategory
from app.orgs.service import get_region
from app.volunteers.models import Volunteer

HOURS_APPROVED = "hours.approved"
HOURS_REJECTED = "hours.rejected"
CORRECTION_REFUSED = "hours.correction_refused"


# Audit trail and events


def audit(
    session: AsyncSession,
    record: HoursRecord,
    *,
    action: AuditAction,
    actor_kind: ActorKind,
    actor_id: uuid.UUID | None,
    from_status: HoursStatus | None,
    reason: str | None = None,
    correction_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add the audit entry of a change to `record` (written by the next flush)."""
    repository.add(
        session,
        HoursAudit(
            region_id=record.region_id,
            hours_record_id=record.id,
            correction_id=correction_id,
            action=action,
            actor_kind=actor_kind,
            actor_id=actor_id,
            from_status=from_status,
            to_status=record.status,
            minutes=record.minutes,
            reason=reason,
            details=details or {},
            at=clock.now(),
        ),
    )


async def emit_approved(session: AsyncSession, record: HoursRecord) -> None:
    assert record.decided_at is not None
    assert record.decided_by_id is not None
    await outbox.emit(
        session,
        region_id=record.region_id,
        topic=HOURS_APPROVED,
        payload={
            "hours_record_id": str(record.id),
            "volunteer_id": str(record.volunteer_id),
            "activity_id": str(record.activity_id),
            "minutes": record.minutes,
            "source": str(record.source),
            "supersedes_id": str(record.supersedes_id) if record.supersedes_id else None,
            "service_date": record.service_date.isoformat(),
            "approved_at": record.decided_at.isoformat(),
            "approved_by": str(record.decided_by_id),
        },
    )


async def emit_rejected(session: AsyncSession, record: HoursRecord) -> None:
    assert record.decided_at is not None
    assert record.decided_by_id is not None
    await outbox.emit(
        session,
        region_id=record.region_id,
        topic=HOURS_REJECTED,
        payload={
            "hours_record_id": str(record.id),
            "volunteer_id": str(record.volunteer_id),
            "activity_id": str(record.activity_id),
            "minutes": record.minutes,
            "reason": record.decision_reason,
            "rejected_at": record.decided_at.isoformat(),
            "rejected_by": str(record.decided_by_id),
        },
    )


async def emit_correction_refused(
    session: AsyncSession, record: HoursRecord, correction: HoursCorrection
) -> None:
    assert correction.decided_at is not None
    assert correction.decided_by_id is not None
    await outbox.emit(
        session,
        region_id=record.region_id,
        topic=CORRECTION_REFUSED,
        payload={
            "correction_id": str(correction.id),
            "hours_record_id": str(record.id),
            "volunteer_id": str(record.volunteer_id),
            "activity_id": str(record.activity_id),
            "reason": correction.decision_reason,
            "refused_at": correction.decided_at.isoformat(),
            "refused_by": str(correction.decided_by_id),
        },
    )


# Records from check-out (called by the attendance flow)


async def create_checkin_hours(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    activity_id: uuid.UUID,
    attendance_id: uuid.UUID,
    minutes: int,
    service_date: date,
    flags: list[str],
) -> HoursRecord:
    """A pending `checkin` record for a closed attendance (minutes already rounded and capped)."""
    record = HoursRecord(
        id=uuid.uuid4(),
        region_id=region_id,
        volunteer_id=volunteer_id,
        activity_id=activity_id,
        attendance_id=attendance_id,
        source=HoursSource.checkin,
        status=HoursStatus.pending,
        minutes=minutes,
        service_date=service_date,
        flags=list(flags),
        created_by_kind=ActorKind.system,
        origin_key=f"checkin:{attendance_id}",
    )
    await repository.insert(session, record)
    audit(
        session,
        record,
        action=AuditAction.created,
        actor_kind=ActorKind.system,
        actor_id=None,
        from_status=None,
        reason="attendance closed",
        details={"attendance_id": str(attendance_id)},
    )
    await session.flush()
    return record


async def credited_minutes_on(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID, service_date: date
) -> int:
    """Minutes of the volunteer's pending and approved records on one region-local day."""
    return await repository.credited_on_day(
        session, region_id=region_id, volunteer_id=volunteer_id, service_date=service_date
    )


# Lookups and checks


async def get_record(
    session: AsyncSession, *, region_id: uuid.UUID, record_id: uuid.UUID, lock: bool = False
) -> HoursRecord:
    record = await repository.record(session, region_id=region_id, record_id=record_id, lock=lock)
    if record is None:
        raise HoursRecordNotFound()
    return record


async def activity_for_staff(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID
) -> Activity:
    """The activity, if the staff member's roles reach its unit (404 / 403 otherwise)."""
    return await activities_service.activity_for_organizer(
        session, staff=staff, activity_id=activity_id
    )


async def daily_cap(session: AsyncSession, *, region_id: uuid.UUID) -> int:
    return (await activities_repository.policy_for(session, region_id=region_id)).daily_cap_minutes


async def service_date_of(session: AsyncSession, activity: Activity) -> date:
    """The region-local day the activity starts on: the day its hours are credited to."""
    region = await get_region(session, activity.region_id)
    return activity.starts_at.astimezone(ZoneInfo(region.timezone)).date()


async def lock_volunteers(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_ids: Sequence[uuid.UUID]
) -> list[Volunteer]:
    """The volunteers of the region, locked in id order: one volunteer's credits, caps
    and corrections are decided one transaction at a time."""
    found = await repository.lock_volunteers(
        session, region_id=region_id, volunteer_ids=volunteer_ids
    )
    missing = set(volunteer_ids) - {v.id for v in found}
    if missing:
        raise VolunteerNotInRegion(
            "No such volunteer in this region", volunteer_ids=sorted(str(m) for m in missing)
        )
    return found


async def check_caps(
    session: AsyncSession,
    *,
    activity: Activity,
    volunteer_id: uuid.UUID,
    minutes: int,
    service_date: date,
    replacing: HoursRecord | None = None,
) -> None:
    """Refuse minutes that would credit the volunteer more than the activity lasted, or more
    than the region's daily cap on that day (`replacing` no longer counts once replaced)."""
    cap = activities_service.cap_minutes(activity)
    on_activity = await repository.credited_on_activity(
        session,
        activity_id=activity.id,
        volunteer_id=volunteer_id,
        excluding=replacing.id if replacing else None,
    )
    if on_activity + minutes > cap:
        raise OverActivityCap(
            f"The activity credits at most {cap} minutes; {on_activity} are already credited",
            cap_minutes=cap,
            credited_minutes=on_activity,
        )
    day_cap = await daily_cap(session, region_id=activity.region_id)
    on_day = await credited_minutes_on(
        session, region_id=activity.region_id, volunteer_id=volunteer_id, service_date=service_date
    )
    if (
        replacing is not None
        and replacing.status in CREDITED_STATUSES
        and replacing.service_date == service_date
    ):
        on_day -= replacing.minutes
    if on_day + minutes > day_cap:
        raise OverDailyCap(
            f"At most {day_cap} minutes a day; {on_day} are already credited on {service_date}",
            cap_minutes=day_cap,
            credited_minutes=on_day,
        )


# For the service record and star levels (app.volunteers)


@dataclass(frozen=True)
class ServiceEntry:
    """One approved record as the service record shows it."""

    hours_record_id: uuid.UUID
    activity_id: uuid.UUID
    title: str
    category: TeamCategory
    starts_at: datetime
    ends_at: datetime
    address: str
    service_date: date
    minutes: int
    source: HoursSource
    org_unit_id: uuid.UUID
    org_unit_name: str


async def approved_minutes(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> int:
    return await repository.approved_minutes(
        session, region_id=region_id, volunteer_id=volunteer_id
    )


async def approved_service(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> list[ServiceEntry]:
    """Every approved record of the volunteer, oldest service first."""
    rows = await repository.approved_service(
        session, region_id=region_id, volunteer_id=volunteer_id
    )
    return [
        ServiceEntry(
            hours_record_id=record.id,
            activity_id=activity.id,
            title=activity.title,
            category=TeamCategory(activity.category),
            starts_at=activity.starts_at,
            ends_at=activity.ends_at,
            address=activity.address,
            service_date=record.service_date,
            minutes=record.minutes,
            source=record.source,
            org_unit_id=activity.org_unit_id,
            org_unit_name=unit_name,
        )
        for record, activity, unit_name in rows
    ]
