"""Correcting hours: the volunteer asks for other minutes on a record of theirs, a staff
member accepts (a new linked record replaces the old, which is kept, superseded) or
refuses. One open request per record.

A correction is decided under its volunteer's lock, taken before the correction's and
the record's, as a request takes it: the caps it checks are that volunteer's.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities_service
from app.activities.hours import repository
from app.activities.hours.errors import (
    CorrectionAlreadyDecided,
    CorrectionAlreadyOpen,
    CorrectionNotFound,
    CorrectionUnchanged,
    HoursNotCorrectable,
    HoursRecordNotFound,
    HoursSuperseded,
    OwnEntryApproval,
)
from app.activities.hours.models import (
    CREDITED_STATUSES,
    ActorKind,
    AuditAction,
    CorrectionStatus,
    HoursCorrection,
    HoursRecord,
    HoursStatus,
)
from app.activities.hours.service import (
    activity_for_staff,
    audit,
    check_caps,
    emit_approved,
    emit_correction_refused,
    get_record,
    lock_volunteers,
)
from app.core import clock
from app.identity.principals import StaffContext
from app.volunteers.models import Volunteer


async def request_correction(
    session: AsyncSession,
    *,
    volunteer: Volunteer,
    record_id: uuid.UUID,
    minutes: int,
    reason: str,
) -> HoursCorrection:
    """The owner of a record asks for other minutes; one open request per record."""
    await lock_volunteers(session, region_id=volunteer.region_id, volunteer_ids=[volunteer.id])
    record = await get_record(session, region_id=volunteer.region_id, record_id=record_id)
    if record.volunteer_id != volunteer.id:
        # Someone else's record answers as a missing one: its existence is theirs alone.
        raise HoursRecordNotFound()
    _require_correctable(record)
    if minutes == record.minutes:
        raise CorrectionUnchanged(f"The record already credits {minutes} minutes")
    open_request = await repository.open_correction_id(session, record_id=record.id)
    if open_request is not None:
        raise CorrectionAlreadyOpen(correction_id=str(open_request))
    activity = await activities_service.get_activity(
        session, region_id=record.region_id, activity_id=record.activity_id
    )
    await check_caps(
        session,
        activity=activity,
        volunteer_id=volunteer.id,
        minutes=minutes,
        service_date=record.service_date,
        replacing=record,
    )
    correction = HoursCorrection(
        id=uuid.uuid4(),
        region_id=record.region_id,
        hours_record_id=record.id,
        volunteer_id=volunteer.id,
        minutes=minutes,
        reason=reason,
        status=CorrectionStatus.open,
        open_record_id=record.id,
    )
    await repository.insert(session, correction)
    audit(
        session,
        record,
        action=AuditAction.correction_requested,
        actor_kind=ActorKind.volunteer,
        actor_id=volunteer.id,
        from_status=record.status,
        reason=reason,
        correction_id=correction.id,
        details={"requested_minutes": minutes},
    )
    await session.flush()
    return correction


def _require_correctable(record: HoursRecord) -> None:
    if record.status == HoursStatus.superseded:
        raise HoursSuperseded()
    if record.status not in CREDITED_STATUSES:
        raise HoursNotCorrectable(f"The hours record is {record.status}")


async def _open_correction(
    session: AsyncSession, *, staff: StaffContext, correction_id: uuid.UUID
) -> tuple[HoursCorrection, HoursRecord]:
    """The open correction and its record, locked after their volunteer, as requests are."""
    volunteer_id = await repository.correction_volunteer_id(
        session, region_id=staff.region_id, correction_id=correction_id
    )
    if volunteer_id is None:
        raise CorrectionNotFound()
    await lock_volunteers(session, region_id=staff.region_id, volunteer_ids=[volunteer_id])
    correction = await repository.lock_correction(session, correction_id=correction_id)
    assert correction is not None
    record = await get_record(
        session, region_id=staff.region_id, record_id=correction.hours_record_id, lock=True
    )
    await activity_for_staff(session, staff=staff, activity_id=record.activity_id)
    if correction.status != CorrectionStatus.open:
        raise CorrectionAlreadyDecided(f"The correction was {correction.status}")
    return correction, record


async def _require_not_entrant_of_chain(
    session: AsyncSession, *, record: HoursRecord, staff: StaffContext
) -> None:
    """Refuse a staff member who entered the record or one it replaced: otherwise one
    organizer could enter a make-up, have it approved, then raise it alone."""
    seen: set[uuid.UUID] = set()
    current: HoursRecord | None = record
    while current is not None and current.id not in seen:
        seen.add(current.id)
        if current.created_by_kind == ActorKind.staff and current.created_by_id == staff.id:
            raise OwnEntryApproval(
                "You entered these hours: another staff member must decide the correction"
            )
        if current.supersedes_id is None:
            break
        current = await repository.record_by_id(session, current.supersedes_id)


async def accept_correction(
    session: AsyncSession, *, staff: StaffContext, correction_id: uuid.UUID
) -> tuple[HoursCorrection, HoursRecord]:
    """Replace the record with one of the asked minutes; the old one stays, superseded.

    The replacement keeps the old record's decision: approved hours stay approved (and
    are announced again, linked to the old record), pending ones await a decision. The
    replacement is the asking volunteer's entry, decided by the accepting staff member,
    who must not have entered any record of the chain."""
    correction, record = await _open_correction(session, staff=staff, correction_id=correction_id)
    _require_correctable(record)
    await _require_not_entrant_of_chain(session, record=record, staff=staff)
    activity = await activities_service.get_activity(
        session, region_id=record.region_id, activity_id=record.activity_id
    )
    await check_caps(
        session,
        activity=activity,
        volunteer_id=record.volunteer_id,
        minutes=correction.minutes,
        service_date=record.service_date,
        replacing=record,
    )
    now = clock.now()
    was = record.status
    approved = was == HoursStatus.approved
    replacement = HoursRecord(
        id=uuid.uuid4(),
        region_id=record.region_id,
        volunteer_id=record.volunteer_id,
        activity_id=record.activity_id,
        attendance_id=record.attendance_id,
        source=record.source,
        status=HoursStatus.approved if approved else HoursStatus.pending,
        minutes=correction.minutes,
        service_date=record.service_date,
        flags=list(record.flags),
        reason=correction.reason,
        # The minutes are the volunteer's: they asked, the staff member decides.
        created_by_kind=ActorKind.volunteer,
        created_by_id=correction.volunteer_id,
        decided_by_id=staff.id if approved else None,
        decided_at=now if approved else None,
        supersedes_id=record.id,
    )
    # The replacement must exist before the correction points at it.
    await repository.insert(session, replacement)
    record.status = HoursStatus.superseded
    correction.status = CorrectionStatus.accepted
    correction.open_record_id = None
    correction.decided_by_id = staff.id
    correction.decided_at = now
    correction.replacement_id = replacement.id
    await session.flush()
    audit(
        session,
        record,
        action=AuditAction.correction_accepted,
        actor_kind=ActorKind.staff,
        actor_id=staff.id,
        from_status=was,
        reason=correction.reason,
        correction_id=correction.id,
        details={"replacement_id": str(replacement.id)},
    )
    audit(
        session,
        replacement,
        action=AuditAction.created,
        actor_kind=ActorKind.staff,
        actor_id=staff.id,
        from_status=None,
        reason=correction.reason,
        correction_id=correction.id,
        details={"supersedes_id": str(record.id)},
    )
    if approved:
        await emit_approved(session, replacement)
    await session.flush()
    return correction, replacement


async def refuse_correction(
    session: AsyncSession, *, staff: StaffContext, correction_id: uuid.UUID, reason: str
) -> HoursCorrection:
    correction, record = await _open_correction(session, staff=staff, correction_id=correction_id)
    correction.status = CorrectionStatus.refused
    correction.open_record_id = None
    correction.decided_by_id = staff.id
    correction.decided_at = clock.now()
    correction.decision_reason = reason
    audit(
        session,
        record,
        action=AuditAction.correction_refused,
        actor_kind=ActorKind.staff,
        actor_id=staff.id,
        from_status=record.status,
        reason=reason,
        correction_id=correction.id,
    )
    await emit_correction_refused(session, record, correction)
    await session.flush()
    return correction
