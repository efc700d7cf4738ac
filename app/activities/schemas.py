"""Request and response bodies of projects, activities, sign-ups, codes and attendance."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.activities.models import (
    ActivityStatus,
    AttendanceMethod,
    RoundingMode,
    SignupStatus,
)
from app.core.clock import Instant
from app.core.schemas import RequestSchema, Schema
from app.orgs.models import TeamCategory

# PostgreSQL text cannot hold NUL (U+0000): refused here, not failed on in the database.
_NO_NUL = r"^[^\x00]*$"
Title = Annotated[str, Field(min_length=1, max_length=200, pattern=_NO_NUL)]
Description = Annotated[str, Field(max_length=4000, pattern=_NO_NUL)]
Latitude = Annotated[float, Field(ge=-90, le=90, description="GCJ-02 latitude, degrees")]
Longitude = Annotated[float, Field(ge=-180, le=180, description="GCJ-02 longitude, degrees")]
RadiusM = Annotated[int, Field(ge=10, le=5000, description="Check-in radius, metres")]
Capacity = Annotated[int, Field(ge=1, le=100_000)]
CapMinutes = Annotated[
    int, Field(ge=1, le=1440, description="Most minutes one attendance earns; default duration")
]


class ProjectCreate(RequestSchema):
    org_unit_id: uuid.UUID
    team_id: uuid.UUID | None = None
    title: Title
    description: Description = ""
    category: TeamCategory


class ProjectUpdate(RequestSchema):
    title: Title | None = None
    description: Description | None = None
    category: TeamCategory | None = None


class Project(Schema):
    id: uuid.UUID
    region_id: uuid.UUID
    org_unit_id: uuid.UUID
    team_id: uuid.UUID | None
    title: str
    description: str
    category: TeamCategory
    created_at: datetime
    updated_at: datetime


class ActivityCreate(RequestSchema):
    org_unit_id: uuid.UUID
    team_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    title: Title
    description: Description = ""
    category: TeamCategory
    starts_at: Instant
    ends_at: Instant
    latitude: Latitude
    longitude: Longitude
    address: Annotated[str, Field(min_length=1, max_length=200, pattern=_NO_NUL)]
    radius_m: RadiusM = 300
    capacity: Capacity
    signup_opens_at: Instant | None = None
    signup_closes_at: Instant | None = Field(
        default=None, description="Default: sign-up closes when the activity starts"
    )
    walk_ins_allowed: bool = False
    scan_required: bool = Field(
        default=False,
        description="High-value: only an organizer's scan of the volunteer's code checks "
        "them in or out; their own scan of the activity's code is refused",
    )
    rounding_mode: RoundingMode = RoundingMode.half_hour
    cap_minutes: CapMinutes | None = None


class ActivityUpdate(RequestSchema):
    """Only the fields sent change; `null` clears an optional one."""

    team_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    title: Title | None = None
    description: Description | None = None
    category: TeamCategory | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    address: Annotated[str, Field(min_length=1, max_length=200, pattern=_NO_NUL)] | None = None
    radius_m: RadiusM | None = None
    capacity: Capacity | None = None
    signup_opens_at: Instant | None = None
    signup_closes_at: Instant | None = None
    walk_ins_allowed: bool | None = None
    scan_required: bool | None = None
    rounding_mode: RoundingMode | None = None
    cap_minutes: CapMinutes | None = None


class ActivityCancel(RequestSchema):
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=_NO_NUL)]


class Activity(Schema):
    id: uuid.UUID
    region_id: uuid.UUID
    org_unit_id: uuid.UUID
    team_id: uuid.UUID | None
    project_id: uuid.UUID | None
    title: str
    description: str
    category: TeamCategory
    starts_at: datetime
    ends_at: datetime
    latitude: float = Field(
        description="GCJ-02; to anyone but the region's staff rounded to 3 decimals (~100 m)"
    )
    longitude: float = Field(
        description="GCJ-02; to anyone but the region's staff rounded to 3 decimals (~100 m)"
    )
    address: str
    radius_m: int = Field(
        description="Check-in radius; to anyone but the region's staff rounded up to 100 m"
    )
    capacity: int
    signed_up: int
    places_left: int
    signup_opens_at: datetime | None
    signup_closes_at: datetime | None
    walk_ins_allowed: bool
    scan_required: bool
    drill: bool = Field(description="An exercise (演练): attending it counts as training too")
    status: ActivityStatus
    rounding_mode: RoundingMode
    cap_minutes: int | None
    published_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    distance_m: float | None = Field(
        default=None,
        description="From the point given as ?latitude=&longitude=, when one was given",
    )


class Signup(Schema):
    id: uuid.UUID
    activity_id: uuid.UUID
    volunteer_id: uuid.UUID
    status: SignupStatus
    walk_in: bool
    signed_up_at: datetime
    cancelled_at: datetime | None


class SignupWithVolunteer(Signup):
    volunteer_name: str | None
    volunteer_no: str


class RotatingCode(BaseModel):
    code: str = Field(description="At most 32 characters: fits a WeChat mini-program QR `scene`")
    window: int = Field(description="The 10-second window the code belongs to")
    expires_at: datetime = Field(description="When the next code replaces this one")
    expires_in: int = Field(description="Seconds until the next code replaces this one")
    svg: str = Field(description="The code as a QR image, SVG")
    png: str = Field(description="The code as a QR image, PNG data URI")


class CheckinRequest(RequestSchema):
    code: Annotated[str, Field(min_length=1, max_length=64)]
    latitude: Latitude
    longitude: Longitude
    accuracy: Annotated[
        float, Field(ge=0, le=100_000, description="Reported accuracy radius, metres")
    ]


class ScanRequest(RequestSchema):
    code: Annotated[str, Field(min_length=1, max_length=64, description="A volunteer's code")]
    action: Literal["check_in", "check_out"]


class Attendance(Schema):
    id: uuid.UUID
    activity_id: uuid.UUID
    volunteer_id: uuid.UUID
    checked_in_at: datetime
    checked_out_at: datetime | None
    checkin_latitude: float | None
    checkin_longitude: float | None
    checkin_accuracy: float | None
    checkout_latitude: float | None
    checkout_longitude: float | None
    checkout_accuracy: float | None
    method: AttendanceMethod
    checkout_method: AttendanceMethod | None
    flags: list[str]
    credited_minutes: int | None
    hours_record_id: uuid.UUID | None = Field(
        default=None, description="The hours record created at check-out"
    )


class AttendanceWithVolunteer(Attendance):
    volunteer_name: str | None
    volunteer_no: str


class CheckinRefusal(Schema):
    id: uuid.UUID
    activity_id: uuid.UUID
    volunteer_id: uuid.UUID
    reason: str
    latitude: float | None
    longitude: float | None
    accuracy: float | None
    detail: dict[str, Any]
    at: datetime


class ActivityPolicy(Schema):
    checkin_opens_before_min: int
    checkout_closes_after_min: int
    daily_cap_minutes: int
    impossible_travel_km: int
    shared_coordinates_threshold: int


class ActivityPolicyUpdate(RequestSchema):
    checkin_opens_before_min: Annotated[int, Field(ge=0, le=240)] | None = None
    checkout_closes_after_min: Annotated[int, Field(ge=0, le=720)] | None = None
    daily_cap_minutes: Annotated[int, Field(ge=60, le=1440)] | None = None
    impossible_travel_km: Annotated[int, Field(ge=1, le=1000)] | None = None
    shared_coordinates_threshold: Annotated[int, Field(ge=2, le=1000)] | None = None
