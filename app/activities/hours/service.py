"""Volunteer hours: records from attendances, make-up and bulk credits, decisions,
corrections, and the audit trail of each change.

Records are never deleted and, once decided, never edited: a correction adds a
record that supersedes the old one. Approving a record emits `hours.approved`
in the same transaction, which the reward policy turns into 良票.

Value needs two people (DESIGN.md §2.12): whoever entered a record (`created_by`:
the staff member of a make-up or bulk credit, the volunteer who asked for a
correction; a check-in record has no human author) cannot approve it, and the
staff member who entered a record cannot accept a correction of it either, since
accepting a correction of approved hours approves the replacement at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository
from app.activities import service as activities_service
from app.activities.hours.errors import (
    ActivityNotFinished,
    ActivityNotHeld,
    AlreadyCredited,
    CorrectionAlreadyDecided,
    CorrectionAlreadyOpen,
    CorrectionNotFound,
    CorrectionUnchanged,
    HoursAlreadyDecided,
    HoursLocked,
    HoursNotCorrectable,
    HoursRecordNotFound,
    HoursSuperseded,
    OverActivityCap,
    OverDailyCap,
    OwnEntryApproval,
    ReasonRequired,
    VolunteerNotInRegion,
)
from app.activities.hours.models import (
    ActorKind,
    AuditAction,
    CorrectionStatus,
    HoursAudit,
    HoursCorrection,
    HoursRecord,
    HoursSource,
    HoursStatus,
    StarThresholds,
)
from app.activities.hours.schemas import (
    ActivityBrief,
    AuditEntry,
    BulkDecisionOut,
    BulkDecisionResult,
    CorrectionOut,
    HoursDetail,
    HoursListItem,
    HoursRecordOut,
    HoursTotals,
    MinutesByCategory,
    MinutesBySource,
    MinutesByYear,
    MyHours,
    VolunteerBrief,
)
from app.activities.models import Activity, ActivityStatus
from app.core import clock
from app.core.db import session_insert
from app.core.errors import AppError
from app.core.pagination import Page, PageParams, before_keyset, decode_keyset, keyset_cursor
from app.identity.principals import StaffContext
from app.integrations import outbox
from app.orgs.models import TEAM_CATEGORY_LABELS, OrgUnit, TeamCategory
from app.orgs.service import get_region
from app.volunteers.models import Volunteer

HOURS_APPROVED = "hours.approved"

# Statuses whose minutes count: towards a day's cap, an activity's cap, a total.
CREDITED_STATUSES = (HoursStatus.pending, HoursStatus.approved)


# Audit trail and events


def _audit(
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
    session.add(
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
        )
    )


async def _emit_approved(session: AsyncSession, record: HoursRecord) -> None:
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
    session.add(record)
    await session.flush()
    _audit(
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
    total = await session.scalar(
        select(func.coalesce(func.sum(HoursRecord.minutes), 0)).where(
            HoursRecord.region_id == region_id,
            HoursRecord.volunteer_id == volunteer_id,
            HoursRecord.service_date == service_date,
            HoursRecord.status.in_(CREDITED_STATUSES),
        )
    )
    return int(total or 0)


# Lookups and checks


async def _record(
    session: AsyncSession, *, region_id: uuid.UUID, record_id: uuid.UUID, lock: bool = False
) -> HoursRecord:
    stmt = select(HoursRecord).where(
        HoursRecord.id == record_id, HoursRecord.region_id == region_id
    )
    if lock:
        # NO KEY UPDATE: rows that merely reference the record (audit, corrections) can
        # still be written by others while it is being decided.
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    record = await session.scalar(stmt)
    if record is None:
        raise HoursRecordNotFound()
    return record


async def _activity_for_staff(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID
) -> Activity:
    """The activity, if the staff member's roles reach its unit (404 / 403 otherwise)."""
    return await activities_service.activity_for_organizer(
        session, staff=staff, activity_id=activity_id
    )


async def _daily_cap(session: AsyncSession, *, region_id: uuid.UUID) -> int:
    return (await repository.policy_for(session, region_id=region_id)).daily_cap_minutes


async def _service_date(session: AsyncSession, activity: Activity) -> date:
    region = await get_region(session, activity.region_id)
    return activity.starts_at.astimezone(ZoneInfo(region.timezone)).date()


async def _lock_volunteers(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_ids: Sequence[uuid.UUID]
) -> list[Volunteer]:
    """The volunteers of the region, locked in id order: one volunteer's credits, caps
    and corrections are decided one transaction at a time."""
    found = list(
        await session.scalars(
            select(Volunteer)
            .where(Volunteer.id.in_(volunteer_ids), Volunteer.region_id == region_id)
            .order_by(Volunteer.id)
            .with_for_update(key_share=True)
        )
    )
    missing = set(volunteer_ids) - {v.id for v in found}
    if missing:
        raise VolunteerNotInRegion(
            "No such volunteer in this region", volunteer_ids=sorted(str(m) for m in missing)
        )
    return found


async def _credited_on_activity(
    session: AsyncSession,
    *,
    activity_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    excluding: uuid.UUID | None = None,
) -> int:
    stmt = select(func.coalesce(func.sum(HoursRecord.minutes), 0)).where(
        HoursRecord.activity_id == activity_id,
        HoursRecord.volunteer_id == volunteer_id,
        HoursRecord.status.in_(CREDITED_STATUSES),
    )
    if excluding is not None:
        stmt = stmt.where(HoursRecord.id != excluding)
    return int(await session.scalar(stmt) or 0)


async def _check_caps(
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
    on_activity = await _credited_on_activity(
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
    daily_cap = await _daily_cap(session, region_id=activity.region_id)
    on_day = await credited_minutes_on(
        session, region_id=activity.region_id, volunteer_id=volunteer_id, service_date=service_date
    )
    if (
        replacing is not None
        and replacing.status in CREDITED_STATUSES
        and replacing.service_date == service_date
    ):
        on_day -= replacing.minutes
    if on_day + minutes > daily_cap:
        raise OverDailyCap(
            f"At most {daily_cap} minutes a day; {on_day} are already credited on {service_date}",
            cap_minutes=daily_cap,
            credited_minutes=on_day,
        )


# Decisions


def _require_not_own_entry(record: HoursRecord, staff: StaffContext) -> None:
    if record.created_by_kind == ActorKind.staff and record.created_by_id == staff.id:
        raise OwnEntryApproval("You entered these hours: another staff member must approve them")


def _require_pending(record: HoursRecord, *, approving: bool) -> None:
    if record.status == HoursStatus.pending:
        return
    if record.status == HoursStatus.superseded:
        raise HoursSuperseded()
    if record.status == HoursStatus.approved and not approving:
        raise HoursLocked("Approved hours are locked; the volunteer may ask for a correction")
    raise HoursAlreadyDecided(f"The hours record is already {record.status}")


async def _decide(
    session: AsyncSession,
    *,
    staff: StaffContext,
    record: HoursRecord,
    approving: bool,
    reason: str | None,
) -> None:
    """Decide a record its caller holds locked and may decide: its status, the audit
    entry and, for an approval, the `hours.approved` event. Nothing is written on refusal.

    Rejecting one's own entry is allowed: it takes value away, it gives none."""
    _require_pending(record, approving=approving)
    if approving:
        _require_not_own_entry(record, staff)
    record.status = HoursStatus.approved if approving else HoursStatus.rejected
    record.decided_by_id = staff.id
    record.decided_at = clock.now()
    if not approving:
        record.decision_reason = reason
    _audit(
        session,
        record,
        action=AuditAction.approved if approving else AuditAction.rejected,
        actor_kind=ActorKind.staff,
        actor_id=staff.id,
        from_status=HoursStatus.pending,
        reason=None if approving else reason,
    )
    if approving:
        await _emit_approved(session, record)


async def approve(
    session: AsyncSession, *, staff: StaffContext, record_id: uuid.UUID
) -> HoursRecord:
    record = await _record(session, region_id=staff.region_id, record_id=record_id, lock=True)
    await _activity_for_staff(session, staff=staff, activity_id=record.activity_id)
    await _decide(session, staff=staff, record=record, approving=True, reason=None)
    await session.flush()
    return record


async def reject(
    session: AsyncSession, *, staff: StaffContext, record_id: uuid.UUID, reason: str
) -> HoursRecord:
    record = await _record(session, region_id=staff.region_id, record_id=record_id, lock=True)
    await _activity_for_staff(session, staff=staff, activity_id=record.activity_id)
    await _decide(session, staff=staff, record=record, approving=False, reason=reason)
    await session.flush()
    return record


async def decide_many(
    session: AsyncSession,
    *,
    staff: StaffContext,
    ids: Sequence[uuid.UUID],
    decision: Literal["approve", "reject"],
    reason: str | None,
) -> BulkDecisionOut:
    """Approve or reject each record on its own: one refusal does not undo the others.

    The records are read and locked in one statement (in id order, so that two
    overlapping bulk decisions cannot deadlock), each activity's reach is checked
    once, and every check comes before a record's writes, which are flushed together.
    """
    if decision == "reject" and not reason:
        raise ReasonRequired("Rejecting needs a reason")
    records = {
        record.id: record
        for record in await session.scalars(
            select(HoursRecord)
            .where(HoursRecord.id.in_(ids), HoursRecord.region_id == staff.region_id)
            .order_by(HoursRecord.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
    }
    reach: dict[uuid.UUID, AppError | None] = {}

    async def refusal_of(record: HoursRecord) -> AppError | None:
        if record.activity_id not in reach:
            try:
                await _activity_for_staff(session, staff=staff, activity_id=record.activity_id)
            except AppError as exc:
                reach[record.activity_id] = exc
            else:
                reach[record.activity_id] = None
        return reach[record.activity_id]

    results: list[BulkDecisionResult] = []
    for record_id in ids:
        try:
            record = records.get(record_id)
            if record is None:
                raise HoursRecordNotFound()
            refusal = await refusal_of(record)
            if refusal is not None:
                raise refusal
            await _decide(
                session, staff=staff, record=record, approving=decision == "approve", reason=reason
            )
        except AppError as exc:
            results.append(
                BulkDecisionResult(
                    id=record_id, ok=False, status=None, code=exc.code, detail=exc.detail
                )
            )
        else:
            results.append(
                BulkDecisionResult(
                    id=record_id, ok=True, status=record.status, code=None, detail=None
                )
            )
    await session.flush()
    succeeded = sum(1 for r in results if r.ok)
    return BulkDecisionOut(results=results, succeeded=succeeded, failed=len(results) - succeeded)


# Make-up and bulk credits


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
    activity = await _activity_for_staff(session, staff=staff, activity_id=activity_id)
    if activity.status not in (ActivityStatus.published, ActivityStatus.finished) or (
        activity.starts_at > clock.now()
    ):
        raise ActivityNotHeld(f"The activity is {activity.status} and cannot be credited")
    await _lock_volunteers(session, region_id=staff.region_id, volunteer_ids=[volunteer_id])
    service_date = await _service_date(session, activity)
    await _check_caps(
        session,
        activity=activity,
        volunteer_id=volunteer_id,
        minutes=minutes,
        service_date=service_date,
    )
    record = HoursRecord(
        id=uuid.uuid4(),
        region_id=activity.region_id,
        volunteer_id=volunteer_id,
        activity_id=activity.id,
        source=HoursSource.makeup,
        status=HoursStatus.pending,
        minutes=minutes,
        service_date=service_date,
        flags=[],
        reason=reason,
        created_by_kind=ActorKind.staff,
        created_by_id=staff.id,
    )
    session.add(record)
    await session.flush()
    _audit(
        session,
        record,
        action=AuditAction.created,
        actor_kind=ActorKind.staff,
        actor_id=staff.id,
        from_status=None,
        reason=reason,
    )
    await session.flush()
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
    activity = await _activity_for_staff(session, staff=staff, activity_id=activity_id)
    if activity.status != ActivityStatus.finished:
        raise ActivityNotFinished(f"The activity is {activity.status}")
    cap = activities_service.cap_minutes(activity)
    if minutes > cap:
        raise OverActivityCap(f"The activity credits at most {cap} minutes", cap_minutes=cap)
    await _lock_volunteers(session, region_id=staff.region_id, volunteer_ids=volunteer_ids)
    credited = set(
        await session.scalars(
            select(HoursRecord.volunteer_id).where(
                HoursRecord.activity_id == activity.id,
                HoursRecord.volunteer_id.in_(volunteer_ids),
                or_(
                    HoursRecord.status.in_(CREDITED_STATUSES),
                    HoursRecord.source == HoursSource.bulk,
                ),
            )
        )
    )
    if credited:
        raise AlreadyCredited(
            "Some volunteers already have hours for this activity",
            volunteer_ids=sorted(str(v) for v in credited),
        )
    service_date = await _service_date(session, activity)
    daily_cap = await _daily_cap(session, region_id=activity.region_id)
    rows = await session.execute(
        select(HoursRecord.volunteer_id, func.sum(HoursRecord.minutes))
        .where(
            HoursRecord.region_id == activity.region_id,
            HoursRecord.volunteer_id.in_(volunteer_ids),
            HoursRecord.service_date == service_date,
            HoursRecord.status.in_(CREDITED_STATUSES),
        )
        .group_by(HoursRecord.volunteer_id)
    )
    on_day = {volunteer_id: int(total) for volunteer_id, total in rows.all()}
    over = [v for v in volunteer_ids if on_day.get(v, 0) + minutes > daily_cap]
    if over:
        raise OverDailyCap(
            f"At most {daily_cap} minutes a day", volunteer_ids=sorted(str(v) for v in over)
        )
    records = [
        HoursRecord(
            id=uuid.uuid4(),
            region_id=activity.region_id,
            volunteer_id=volunteer_id,
            activity_id=activity.id,
            source=HoursSource.bulk,
            status=HoursStatus.pending,
            minutes=minutes,
            service_date=service_date,
            flags=[],
            reason=reason,
            created_by_kind=ActorKind.staff,
            created_by_id=staff.id,
            origin_key=f"bulk:{activity.id}:{volunteer_id}",
        )
        for volunteer_id in volunteer_ids
    ]
    session.add_all(records)
    await session.flush()
    for record in records:
        _audit(
            session,
            record,
            action=AuditAction.created,
            actor_kind=ActorKind.staff,
            actor_id=staff.id,
            from_status=None,
            reason=reason,
        )
    await session.flush()
    return records


# Corrections


async def request_correction(
    session: AsyncSession,
    *,
    volunteer: Volunteer,
    record_id: uuid.UUID,
    minutes: int,
    reason: str,
) -> HoursCorrection:
    """The owner of a record asks for other minutes; one open request per record."""
    await _lock_volunteers(session, region_id=volunteer.region_id, volunteer_ids=[volunteer.id])
    record = await _record(session, region_id=volunteer.region_id, record_id=record_id)
    if record.volunteer_id != volunteer.id:
        # Someone else's record answers as a missing one: its existence is theirs alone.
        raise HoursRecordNotFound()
    _require_correctable(record)
    if minutes == record.minutes:
        raise CorrectionUnchanged(f"The record already credits {minutes} minutes")
    open_request = await session.scalar(
        select(HoursCorrection.id).where(HoursCorrection.open_record_id == record.id)
    )
    if open_request is not None:
        raise CorrectionAlreadyOpen(correction_id=str(open_request))
    activity = await activities_service.get_activity(
        session, region_id=record.region_id, activity_id=record.activity_id
    )
    await _check_caps(
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
    session.add(correction)
    await session.flush()
    _audit(
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
    volunteer_id = await session.scalar(
        select(HoursCorrection.volunteer_id).where(
            HoursCorrection.id == correction_id, HoursCorrection.region_id == staff.region_id
        )
    )
    if volunteer_id is None:
        raise CorrectionNotFound()
    await _lock_volunteers(session, region_id=staff.region_id, volunteer_ids=[volunteer_id])
    correction = await session.scalar(
        select(HoursCorrection)
        .where(HoursCorrection.id == correction_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    assert correction is not None
    record = await _record(
        session, region_id=staff.region_id, record_id=correction.hours_record_id, lock=True
    )
    await _activity_for_staff(session, staff=staff, activity_id=record.activity_id)
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
        current = await session.get(HoursRecord, current.supersedes_id)


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
    await _check_caps(
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
    session.add(replacement)
    # Without ORM relationships the flush does not order rows across tables: the
    # replacement must exist before the correction points at it.
    await session.flush()
    record.status = HoursStatus.superseded
    correction.status = CorrectionStatus.accepted
    correction.open_record_id = None
    correction.decided_by_id = staff.id
    correction.decided_at = now
    correction.replacement_id = replacement.id
    await session.flush()
    _audit(
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
    _audit(
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
        await _emit_approved(session, replacement)
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
    _audit(
        session,
        record,
        action=AuditAction.correction_refused,
        actor_kind=ActorKind.staff,
        actor_id=staff.id,
        from_status=record.status,
        reason=reason,
        correction_id=correction.id,
    )
    await session.flush()
    return correction


# Reading

_Listing = Select[HoursRecord, Activity, Volunteer]


def _listing() -> _Listing:
    return (
        select(HoursRecord, Activity, Volunteer)
        .join(Activity, Activity.id == HoursRecord.activity_id)
        .join(Volunteer, Volunteer.id == HoursRecord.volunteer_id)
    )


def _newest_first(stmt: _Listing, cursor: str | None) -> _Listing:
    last = decode_keyset(cursor)
    if last is not None:
        stmt = stmt.where(before_keyset(HoursRecord.created_at, HoursRecord.id, last))
    return stmt.order_by(HoursRecord.created_at.desc(), HoursRecord.id.desc())


async def _open_corrections(
    session: AsyncSession, record_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, HoursCorrection]:
    if not record_ids:
        return {}
    rows = await session.scalars(
        select(HoursCorrection).where(HoursCorrection.open_record_id.in_(record_ids))
    )
    return {c.hours_record_id: c for c in rows}


def _item(
    record: HoursRecord,
    activity: Activity,
    volunteer: Volunteer,
    open_correction: HoursCorrection | None,
) -> HoursListItem:
    return HoursListItem(
        **dict(HoursRecordOut.model_validate(record)),
        activity=ActivityBrief.model_validate(activity),
        volunteer=VolunteerBrief.model_validate(volunteer),
        open_correction=CorrectionOut.model_validate(open_correction) if open_correction else None,
    )


async def _page(session: AsyncSession, stmt: _Listing, page: PageParams) -> Page[HoursListItem]:
    rows = (await session.execute(_newest_first(stmt, page.cursor).limit(page.limit + 1))).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    opens = await _open_corrections(session, [row[0].id for row in rows])
    items = [_item(r, a, v, opens.get(r.id)) for r, a, v in rows]
    last = rows[-1][0] if rows else None
    next_cursor = keyset_cursor(last.created_at, last.id) if more and last else None
    return Page(items=items, next_cursor=next_cursor)


async def list_for_staff(
    session: AsyncSession,
    *,
    staff: StaffContext,
    page: PageParams,
    status: HoursStatus | None = None,
    source: HoursSource | None = None,
    activity_id: uuid.UUID | None = None,
    volunteer_id: uuid.UUID | None = None,
) -> Page[HoursListItem]:
    """Records of activities on the units the staff member's roles reach, newest first."""
    if not staff.unit_paths:
        return Page(items=[])
    stmt = (
        _listing()
        .join(OrgUnit, OrgUnit.id == Activity.org_unit_id)
        .where(
            HoursRecord.region_id == staff.region_id,
            or_(*(OrgUnit.path.startswith(path, autoescape=True) for path in staff.unit_paths)),
        )
    )
    if status is not None:
        stmt = stmt.where(HoursRecord.status == status)
    if source is not None:
        stmt = stmt.where(HoursRecord.source == source)
    if activity_id is not None:
        stmt = stmt.where(HoursRecord.activity_id == activity_id)
    if volunteer_id is not None:
        stmt = stmt.where(HoursRecord.volunteer_id == volunteer_id)
    return await _page(session, stmt, page)


async def detail_for_staff(
    session: AsyncSession, *, staff: StaffContext, record_id: uuid.UUID
) -> HoursDetail:
    """One record with its corrections and its audit trail, oldest change first."""
    record = await _record(session, region_id=staff.region_id, record_id=record_id)
    activity = await _activity_for_staff(session, staff=staff, activity_id=record.activity_id)
    volunteer = await session.get_one(Volunteer, record.volunteer_id)
    corrections = list(
        await session.scalars(
            select(HoursCorrection)
            .where(HoursCorrection.hours_record_id == record.id)
            .order_by(HoursCorrection.created_at, HoursCorrection.id)
        )
    )
    audit = await session.scalars(
        select(HoursAudit)
        .where(HoursAudit.hours_record_id == record.id)
        .order_by(HoursAudit.at, HoursAudit.id)
    )
    open_correction = next((c for c in corrections if c.status == CorrectionStatus.open), None)
    return HoursDetail(
        **dict(_item(record, activity, volunteer, open_correction)),
        corrections=[CorrectionOut.model_validate(c) for c in corrections],
        audit=[AuditEntry.model_validate(a) for a in audit],
    )


async def _totals(session: AsyncSession, *, volunteer: Volunteer) -> HoursTotals:
    rows = await session.execute(
        select(
            HoursRecord.status,
            HoursRecord.service_date,
            HoursRecord.source,
            Activity.category,
            func.sum(HoursRecord.minutes),
        )
        .join(Activity, Activity.id == HoursRecord.activity_id)
        .where(
            HoursRecord.region_id == volunteer.region_id,
            HoursRecord.volunteer_id == volunteer.id,
            HoursRecord.status.in_(CREDITED_STATUSES),
        )
        .group_by(
            HoursRecord.status, HoursRecord.service_date, HoursRecord.source, Activity.category
        )
    )
    pending = 0
    by_year: dict[int, int] = {}
    by_category: dict[TeamCategory, int] = {}
    by_source: dict[HoursSource, int] = {}
    for status, service_date, source, category, minutes in rows.all():
        if status == HoursStatus.pending:
            pending += int(minutes)
            continue
        by_year[service_date.year] = by_year.get(service_date.year, 0) + int(minutes)
        key = TeamCategory(category)
        by_category[key] = by_category.get(key, 0) + int(minutes)
        by_source[HoursSource(source)] = by_source.get(HoursSource(source), 0) + int(minutes)
    return HoursTotals(
        approved_minutes=sum(by_year.values()),
        pending_minutes=pending,
        by_year=[MinutesByYear(year=y, minutes=m) for y, m in sorted(by_year.items())],
        by_category=[
            MinutesByCategory(category=c, label=TEAM_CATEGORY_LABELS[c], minutes=m)
            for c, m in sorted(by_category.items())
        ],
        by_source=[MinutesBySource(source=s, minutes=m) for s, m in sorted(by_source.items())],
    )


async def my_hours(
    session: AsyncSession,
    *,
    volunteer: Volunteer,
    page: PageParams,
    status: HoursStatus | None = None,
) -> MyHours:
    """The volunteer's approved totals and a page of their records, newest first."""
    stmt = _listing().where(
        HoursRecord.region_id == volunteer.region_id, HoursRecord.volunteer_id == volunteer.id
    )
    if status is not None:
        stmt = stmt.where(HoursRecord.status == status)
    records = await _page(session, stmt, page)
    totals = await _totals(session, volunteer=volunteer)
    return MyHours(totals=totals, items=records.items, next_cursor=records.next_cursor)


# For the service record and star levels (app.volunteers.records)


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
    total = await session.scalar(
        select(func.coalesce(func.sum(HoursRecord.minutes), 0)).where(
            HoursRecord.region_id == region_id,
            HoursRecord.volunteer_id == volunteer_id,
            HoursRecord.status == HoursStatus.approved,
        )
    )
    return int(total or 0)


async def approved_service(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> list[ServiceEntry]:
    """Every approved record of the volunteer, oldest service first."""
    rows = await session.execute(
        select(HoursRecord, Activity, OrgUnit.name)
        .join(Activity, Activity.id == HoursRecord.activity_id)
        .join(OrgUnit, OrgUnit.id == Activity.org_unit_id)
        .where(
            HoursRecord.region_id == region_id,
            HoursRecord.volunteer_id == volunteer_id,
            HoursRecord.status == HoursStatus.approved,
        )
        .order_by(HoursRecord.service_date, Activity.starts_at, HoursRecord.id)
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
        for record, activity, unit_name in rows.all()
    ]


async def region_star_thresholds(
    session: AsyncSession, *, region_id: uuid.UUID
) -> list[int] | None:
    """The region's override of the star thresholds (hours), if it set one."""
    row = await session.get(StarThresholds, region_id)
    return list(row.hours) if row is not None else None


async def save_star_thresholds(
    session: AsyncSession, *, region_id: uuid.UUID, hours: list[int], staff_id: uuid.UUID
) -> None:
    values = {
        "region_id": region_id,
        "hours": hours,
        "updated_at": clock.now(),
        "updated_by_id": staff_id,
    }
    # An upsert: two first settings of a region may race, the later one wins.
    stmt = session_insert(session)(StarThresholds).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["region_id"],
            set_={key: stmt.excluded[key] for key in ("hours", "updated_at", "updated_by_id")},
        )
    )
