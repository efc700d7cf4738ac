"""Tables of `app.emergency`: grids, their emergency teams, call-outs (alerts), who each
alert called, their answers, and the audit trail of them all."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin, TimestampMixin


class GridShape(StrEnum):
    polygon = "polygon"
    circle = "circle"


class Skill(StrEnum):
    first_aid = "first_aid"
    swimming = "swimming"
    driving = "driving"
    electrician = "electrician"
    medical = "medical"
    logistics = "logistics"
    other = "other"


class Availability(StrEnum):
    """When a volunteer can usually be called: any of the first four, or `anytime`."""

    weekdays = "weekdays"  # weekday daytime
    evenings = "evenings"
    nights = "nights"
    weekends = "weekends"
    anytime = "anytime"


class EnrolmentStatus(StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    refused = "refused"
    withdrawn = "withdrawn"


class AlertKind(StrEnum):
    flood = "flood"  # 防汛
    epidemic = "epidemic"  # 防疫
    freeze = "freeze"  # 防冻
    fire = "fire"
    search = "search"
    other = "other"


ALERT_KIND_LABELS: dict[AlertKind, str] = {
    AlertKind.flood: "防汛",
    AlertKind.epidemic: "防疫",
    AlertKind.freeze: "防冻",
    AlertKind.fire: "消防",
    AlertKind.search: "搜寻",
    AlertKind.other: "应急",
}


class AlertStatus(StrEnum):
    open = "open"
    stood_down = "stood_down"


class Wave(StrEnum):
    """Whom a call reached, in the order escalation widens it."""

    grids = "grids"  # confirmed enrolees of the alert's own grids
    neighbours = "neighbours"  # confirmed enrolees of the other grids under the same stations
    station = "station"  # everyone who signed up for an activity under those stations


WAVES = (Wave.grids, Wave.neighbours, Wave.station)


class Answer(StrEnum):
    coming = "coming"
    not_coming = "not_coming"


class Grid(IdMixin, TimestampMixin, Base):
    """A point (点) as a grid: the area its emergency team covers, in GCJ-02."""

    __tablename__ = "emergency_grids"
    __table_args__ = (
        CheckConstraint(
            "(shape = 'polygon' AND polygon IS NOT NULL AND radius_m IS NULL)"
            " OR (shape = 'circle' AND polygon IS NULL AND radius_m IS NOT NULL)",
            name="one_shape",
        ),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_units.id"), unique=True)
    shape: Mapped[GridShape] = mapped_column(String(16))
    # [[latitude, longitude], …] for a polygon; the centre is its vertices' mean.
    polygon: Mapped[list[list[float]] | None] = mapped_column(JSON(none_as_null=True))
    center_latitude: Mapped[float]
    center_longitude: Mapped[float]
    radius_m: Mapped[int | None]
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    updated_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))


class Enrolment(IdMixin, TimestampMixin, Base):
    """A volunteer in a grid's emergency team: asked, then confirmed or refused by staff on
    the grid's point; withdrawn by the volunteer. Asking again reopens the same row."""

    __tablename__ = "emergency_enrolments"
    __table_args__ = (
        UniqueConstraint("grid_id", "volunteer_id"),
        Index("ix_emergency_enrolments_grid_id_status", "grid_id", "status"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    grid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("emergency_grids.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"), index=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    availability: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[EnrolmentStatus] = mapped_column(String(16), default=EnrolmentStatus.pending)
    asked_at: Mapped[datetime]
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    withdrawn_at: Mapped[datetime | None]


class Alert(IdMixin, TimestampMixin, Base):
    """A call-out of one or more grids' teams to a muster point."""

    __tablename__ = "emergency_alerts"
    __table_args__ = (
        Index("ix_emergency_alerts_status_escalate_at", "status", "escalate_at"),
        Index("ix_emergency_alerts_region_id_raised_at", "region_id", "raised_at"),
        CheckConstraint("needed_total >= 1", name="needed_total_positive"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    # The unit whose staff run the alert: the grids' nearest common unit.
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_units.id"), index=True)
    kind: Mapped[AlertKind] = mapped_column(String(16))
    drill: Mapped[bool]
    message: Mapped[str] = mapped_column(String(1000), default="")
    muster_name: Mapped[str] = mapped_column(String(100))
    muster_address: Mapped[str] = mapped_column(String(200))
    muster_latitude: Mapped[float]
    muster_longitude: Mapped[float]
    muster_by: Mapped[datetime]
    needed_total: Mapped[int]
    # {skill: people with it needed}
    needed_skills: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    status: Mapped[AlertStatus] = mapped_column(String(16), default=AlertStatus.open)
    wave: Mapped[Wave] = mapped_column(String(16), default=Wave.grids)
    escalate_after_seconds: Mapped[int]
    # When the escalation job next looks at the alert; None once nothing is left to widen.
    escalate_at: Mapped[datetime | None]
    # Bumped in the transaction of every change the muster board shows: the stream's cue.
    version: Mapped[int] = mapped_column(default=1)
    activity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("activities.id"), unique=True)
    raised_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    raised_at: Mapped[datetime]
    stood_down_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    stood_down_at: Mapped[datetime | None]
    stand_down_reason: Mapped[str | None] = mapped_column(String(500))


class AlertGrid(Base):
    """A grid an alert covers, and the wave that reached it."""

    __tablename__ = "emergency_alert_grids"

    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("emergency_alerts.id"), primary_key=True)
    grid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("emergency_grids.id"), primary_key=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    wave: Mapped[Wave] = mapped_column(String(16))


class Call(Base):
    """A volunteer an alert called, with the skills they enrolled with at the time."""

    __tablename__ = "emergency_calls"

    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("emergency_alerts.id"), primary_key=True)
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"), primary_key=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    wave: Mapped[Wave] = mapped_column(String(16))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    called_at: Mapped[datetime]


class Response(Base):
    """A called volunteer's answer: one row, the last answer written over the earlier,
    `version` the alert's version it was written at (so the later write has the larger)."""

    __tablename__ = "emergency_responses"
    __table_args__ = (Index("ix_emergency_responses_volunteer_id", "volunteer_id"),)

    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("emergency_alerts.id"), primary_key=True)
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"), primary_key=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    answer: Mapped[Answer] = mapped_column(String(16))
    eta_minutes: Mapped[int | None]
    version: Mapped[int]
    answers: Mapped[int] = mapped_column(default=1)
    first_answered_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuditSubject(StrEnum):
    grid = "grid"
    enrolment = "enrolment"
    alert = "alert"


class AuditAction(StrEnum):
    grid_defined = "grid_defined"
    grid_updated = "grid_updated"
    enrolment_confirmed = "enrolment_confirmed"
    enrolment_refused = "enrolment_refused"
    alert_raised = "alert_raised"
    alert_escalated = "alert_escalated"
    alert_stood_down = "alert_stood_down"


class EmergencyAudit(IdMixin, Base):
    """Who changed a grid, decided an enrolment, raised, escalated or stood down an alert;
    when and with what. Written once (the service's role may not change it)."""

    __tablename__ = "emergency_audit"
    __table_args__ = (Index("ix_emergency_audit_subject_id_at", "subject_id", "at"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    subject: Mapped[AuditSubject] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID]
    action: Mapped[AuditAction] = mapped_column(String(32))
    # None: the escalation job.
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=clock.now)
