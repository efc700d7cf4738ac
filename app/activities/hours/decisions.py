"""Deciding hours: a staff member approves or rejects pending records, one or many.

An approval locks the record and announces `hours.approved` in the same transaction;
no one approves hours they entered (DESIGN.md §2.12).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours import repository
from app.activities.hours.errors import (
    HoursAlreadyDecided,
    HoursLocked,
    HoursRecordNotFound,
    HoursSuperseded,
    OwnEntryApproval,
    ReasonRequired,
)
from app.activities.hours.models import ActorKind, AuditAction, HoursRecord, HoursStatus
from app.activities.hours.schemas import BulkDecisionOut, BulkDecisionResult
from app.activities.hours.service import (
    activity_for_staff,
    audit,
    emit_approved,
    emit_rejected,
    get_record,
)
from app.core import clock
from app.core.errors import AppError
from app.identity.principals import StaffContext


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
    audit(
        session,
        record,
        action=AuditAction.approved if approving else AuditAction.rejected,
        actor_kind=ActorKind.staff,
        actor_id=staff.id,
        from_status=HoursStatus.pending,
        reason=None if approving else reason,
    )
    if approving:
        await emit_approved(session, record)
    else:
        await emit_rejected(session, record)


async def approve(
    session: AsyncSession, *, staff: StaffContext, record_id: uuid.UUID
) -> HoursRecord:
    record = await get_record(session, region_id=staff.region_id, record_id=record_id, lock=True)
    await activity_for_staff(session, staff=staff, activity_id=record.activity_id)
    await _decide(session, staff=staff, record=record, approving=True, reason=None)
    await session.flush()
    return record


async def reject(
    session: AsyncSession, *, staff: StaffContext, record_id: uuid.UUID, reason: str
) -> HoursRecord:
    record = await get_record(session, region_id=staff.region_id, record_id=record_id, lock=True)
    await activity_for_staff(session, staff=staff, activity_id=record.activity_id)
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
    records = await repository.lock_records(session, region_id=staff.region_id, record_ids=ids)
    reach: dict[uuid.UUID, AppError | None] = {}

    async def refusal_of(record: HoursRecord) -> AppError | None:
        if record.activity_id not in reach:
            try:
                await activity_for_staff(session, staff=staff, activity_id=record.activity_id)
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
