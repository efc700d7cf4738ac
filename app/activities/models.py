"""Tables of `app.activities`: projects, activities, sign-ups, attendances and the
per-region check-in policy.

Hours records live in `app.activities.hours.models`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin
from app.orgs.models import TeamCategory


class ActivityStatus(StrEnum):
    draft = "draft"
    published = "published"
    finished = "finished"
    cancelled = "cancelled"


class RoundingMode(StrEnum):
    # Per started hour: under 15 min → 0, 15–44 → 30, 45–60 → 60.
    half_hour = "half_hour"
    # Minutes as measured, no rounding.
    exact = "exact"


class SignupStatus(StrEnum):
    active = "active"
    cancelled = "cancelled"


class AttendanceMethod(StrEnum):
    code = "code"  # the volunteer scanned the activity's rotating code
    organizer_scan = "organizer_scan"  # the organizer scanned the volunteer's personal code
    auto_close = "auto_close"  # closed by the forgotten check-out job


class AttendanceFlag(StrEnum):
    zero_accuracy = "zero_accuracy"
    shared_coordinates = "shared_coordinates"
    daily_cap = "daily_cap"
    auto_closed = "auto_closed"


class Project(IdMixin, TimestampMixin, Base):
    """A 项目库 entry: a named programme grouping activities of one unit."""

    __tablename__ = "projects"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_units.id"), index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(4000), default="")
    category: Mapped[TeamCategory] = mapped_column(String(16))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))


class Activity(IdMixin, TimestampMixin, Base):
    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_region_id_status_starts_at", "region_id", "status", "starts_at"),
        Index("ix_activities_status_ends_at", "status", "ends_at"),
        CheckConstraint("signed_up >= 0 AND signed_up <= capacity", name="signed_up_in_capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_units.id"), index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(4000), default="")
    category: Mapped[TeamCategory] = mapped_column(String(16))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # GCJ-02, as the mini-program reports positions.
    latitude: Mapped[float]
    longitude: Mapped[float]
    address: Mapped[str] = mapped_column(String(200))
    radius_m: Mapped[int] = mapped_column(default=300)
    capacity: Mapped[int]
    # Places taken (sign-ups and walk-ins), moved only by a conditional UPDATE.
    signed_up: Mapped[int] = mapped_column(default=0)
    signup_opens_at: Mapped[datetime | None]
    signup_closes_at: Mapped[datetime | None]
    walk_ins_allowed: Mapped[bool] = mapped_column(default=False)
    # High-value: a code relayed from the site with the venue's coordinates would check in
    # someone who is not there, so only an organizer's scan of the volunteer checks in/out.
    scan_required: Mapped[bool] = mapped_column(default=False, server_default=false())
    # An exercise (演练), such as a drill call-out's muster: attending it is training on
    # the volunteer's record as well as service.
    drill: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[ActivityStatus] = mapped_column(String(16), default=ActivityStatus.draft)
    rounding_mode: Mapped[RoundingMode] = mapped_column(String(16), default=RoundingMode.half_hour)
    # None: capped at the activity's duration.
    cap_minutes: Mapped[int | None]
    checkin_secret: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    published_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    # Set when the activity is finished: its open attendances are closed then.
    finished_at: Mapped[datetime | None]


class Signup(IdMixin, TimestampMixin, Base):
    __tablename__ = "signups"
    __table_args__ = (UniqueConstraint("activity_id", "volunteer_id"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    activity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("activities.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"), index=True)
    status: Mapped[SignupStatus] = mapped_column(String(16), default=SignupStatus.active)
    # A walk-in took a place at check-in instead of signing up beforehand.
    walk_in: Mapped[bool] = mapped_column(default=False)
    signed_up_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]


class Attendance(IdMixin, TimestampMixin, Base):
    __tablename__ = "attendances"
    __table_args__ = (
        UniqueConstraint("activity_id", "volunteer_id"),
        Index("ix_attendances_volunteer_id_checked_in_at", "volunteer_id", "checked_in_at"),
        # Finds check-ins reported at identical coordinates without reading the heap.
        Index(
            "ix_attendances_activity_id_checkin_position",
            "activity_id",
            "checkin_latitude",
            "checkin_longitude",
        ),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    activity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("activities.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"))
    checked_in_at: Mapped[datetime]
    checked_out_at: Mapped[datetime | None]
    checkin_latitude: Mapped[float | None]
    checkin_longitude: Mapped[float | None]
    checkin_accuracy: Mapped[float | None]
    checkout_latitude: Mapped[float | None]
    checkout_longitude: Mapped[float | None]
    checkout_accuracy: Mapped[float | None]
    # How the volunteer was checked in, and how the attendance was closed.
    method: Mapped[AttendanceMethod] = mapped_column(String(16))
    checkout_method: Mapped[AttendanceMethod | None] = mapped_column(String(16))
    # The staff member who scanned the volunteer's personal code, if any.
    scanned_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Minutes credited at check-out (rounded and capped); None while open.
    credited_minutes: Mapped[int | None]


class ActivityPolicy(IdMixin, TimestampMixin, Base):
    """A region's check-in rules and the key of its volunteers' personal codes; the row is
    created with the defaults when the region first needs it."""

    __tablename__ = "activity_policies"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), unique=True)
    checkin_opens_before_min: Mapped[int] = mapped_column(default=30)
    # Also when forgotten check-outs are closed and the activity is finished.
    checkout_closes_after_min: Mapped[int] = mapped_column(default=60)
    daily_cap_minutes: Mapped[int] = mapped_column(default=720)
    impossible_travel_km: Mapped[int] = mapped_column(default=50)
    shared_coordinates_threshold: Mapped[int] = mapped_column(default=5)
    # Keys the volunteers' personal rotating codes of this region.
    personal_code_secret: Mapped[bytes] = mapped_column(LargeBinary(32))


class CheckinRefusal(IdMixin, Base):
    """A check-in refused as likely fraud, kept for the organizer although nothing else
    of the attempt is recorded."""

    __tablename__ = "checkin_refusals"
    __table_args__ = (Index("ix_checkin_refusals_activity_id_at", "activity_id", "at"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    activity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("activities.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    accuracy: Mapped[float | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime]
