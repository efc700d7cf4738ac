"""Tables of volunteer hours: records, their corrections, their audit trail.

An hours record is never deleted nor edited once decided: it is approved,
rejected, or replaced by a newer record that links to it (`supersedes_id`),
the old one kept with status `superseded`. Every change is a `HoursAudit` row.
The database holds to it (migration 0021): no DELETE, no change to what was
entered, a status that only moves forward and a decision written once; the
audit trail is append-only.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin, TimestampMixin


class HoursSource(StrEnum):
    checkin = "checkin"  # from a closed attendance
    makeup = "makeup"  # entered by staff with a reason
    bulk = "bulk"  # an organizer's bulk credit for a finished activity


class HoursStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    superseded = "superseded"  # replaced by an accepted correction; kept


# Statuses whose minutes count: towards a day's cap, an activity's cap, a total.
CREDITED_STATUSES = (HoursStatus.pending, HoursStatus.approved)


class CorrectionStatus(StrEnum):
    open = "open"
    accepted = "accepted"
    refused = "refused"


class ActorKind(StrEnum):
    staff = "staff"
    volunteer = "volunteer"
    system = "system"


class AuditAction(StrEnum):
    created = "created"
    approved = "approved"
    rejected = "rejected"
    superseded = "superseded"
    correction_requested = "correction_requested"
    correction_accepted = "correction_accepted"
    correction_refused = "correction_refused"


class HoursRecord(IdMixin, TimestampMixin, Base):
    __tablename__ = "hours_records"
    __table_args__ = (
        Index("ix_hours_records_volunteer_day", "region_id", "volunteer_id", "service_date"),
        Index("ix_hours_records_volunteer_created", "volunteer_id", "created_at"),
        Index("ix_hours_records_activity_status", "activity_id", "status"),
        Index("ix_hours_records_region_created", "region_id", "created_at"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"))
    activity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("activities.id"))
    attendance_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("attendances.id"))
    source: Mapped[HoursSource] = mapped_column(String(16))
    status: Mapped[HoursStatus] = mapped_column(String(16), default=HoursStatus.pending)
    minutes: Mapped[int]
    # The region-local calendar day of the service (daily caps, yearly totals).
    service_date: Mapped[date]
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_by_kind: Mapped[ActorKind] = mapped_column(String(16))
    created_by_id: Mapped[uuid.UUID | None]
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    # The record this one replaces; unique, so a record is superseded at most once.
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("hours_records.id"), unique=True
    )
    # "checkin:<attendance>" or "bulk:<activity>:<volunteer>": the database itself
    # refuses a second record for one attendance, or a second bulk credit.
    origin_key: Mapped[str | None] = mapped_column(String(120), unique=True)


class HoursCorrection(IdMixin, TimestampMixin, Base):
    """A volunteer's request to change the minutes of one of their records."""

    __tablename__ = "hours_corrections"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    hours_record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hours_records.id"), index=True)
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"), index=True)
    minutes: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[CorrectionStatus] = mapped_column(String(16), default=CorrectionStatus.open)
    # Set while open, cleared on decision: the database allows one open request per record.
    open_record_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    replacement_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hours_records.id"))


class HoursAudit(IdMixin, Base):
    """Who changed an hours record, when, what and why. Append-only."""

    __tablename__ = "hours_audit"
    __table_args__ = (Index("ix_hours_audit_record_at", "hours_record_id", "at"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    hours_record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hours_records.id"))
    correction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hours_corrections.id"))
    action: Mapped[AuditAction] = mapped_column(String(32))
    actor_kind: Mapped[ActorKind] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    from_status: Mapped[HoursStatus | None] = mapped_column(String(16))
    to_status: Mapped[HoursStatus | None] = mapped_column(String(16))
    minutes: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=clock.now)
