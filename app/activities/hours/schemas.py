"""Request and response bodies of the hours routes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from app.activities.hours.models import (
    ActorKind,
    AuditAction,
    CorrectionStatus,
    HoursSource,
    HoursStatus,
)
from app.core.schemas import RequestSchema, Schema
from app.orgs.models import TeamCategory

# PostgreSQL text cannot hold NUL (U+0000): refused here, not failed on in the database.
_NO_NUL = r"^[^\x00]*$"
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=_NO_NUL)
]
# A day of service is at most 24 h; caps of the activity and the day apply on top.
Minutes = Annotated[int, Field(ge=1, le=24 * 60)]


# Requests


class HoursReject(RequestSchema):
    reason: Reason


class BulkDecision(RequestSchema):
    ids: list[uuid.UUID] = Field(min_length=1, max_length=200)
    decision: Literal["approve", "reject"]
    reason: Reason | None = None


class MakeupCreate(RequestSchema):
    volunteer_id: uuid.UUID
    activity_id: uuid.UUID
    minutes: Minutes
    reason: Reason


class BulkCreditCreate(RequestSchema):
    volunteer_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    minutes: Minutes
    reason: Reason

    @field_validator("volunteer_ids")
    @classmethod
    def _distinct(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(value)) != len(value):
            raise ValueError("volunteer ids must be distinct")
        return value


class CorrectionCreate(RequestSchema):
    minutes: Minutes
    reason: Reason


class CorrectionRefuse(RequestSchema):
    reason: Reason


# Responses


class HoursRecordOut(Schema):
    id: uuid.UUID
    volunteer_id: uuid.UUID
    activity_id: uuid.UUID
    attendance_id: uuid.UUID | None
    source: HoursSource
    status: HoursStatus
    minutes: int
    service_date: date = Field(description="Region-local day of the service")
    flags: list[str]
    reason: str | None
    created_by_kind: ActorKind
    created_by_id: uuid.UUID | None
    created_at: datetime
    decided_by_id: uuid.UUID | None
    decided_at: datetime | None
    decision_reason: str | None
    supersedes_id: uuid.UUID | None = Field(description="The record this one replaced")


class ActivityBrief(Schema):
    id: uuid.UUID
    title: str
    category: TeamCategory
    starts_at: datetime
    ends_at: datetime
    address: str
    org_unit_id: uuid.UUID


class VolunteerBrief(Schema):
    id: uuid.UUID
    volunteer_no: str
    name: str | None


class CorrectionOut(Schema):
    id: uuid.UUID
    hours_record_id: uuid.UUID
    volunteer_id: uuid.UUID
    minutes: int = Field(description="The minutes the volunteer asks for")
    reason: str
    status: CorrectionStatus
    created_at: datetime
    decided_by_id: uuid.UUID | None
    decided_at: datetime | None
    decision_reason: str | None
    replacement_id: uuid.UUID | None


class HoursListItem(HoursRecordOut):
    activity: ActivityBrief
    volunteer: VolunteerBrief
    open_correction: CorrectionOut | None


class AuditEntry(Schema):
    id: uuid.UUID
    action: AuditAction
    actor_kind: ActorKind
    actor_id: uuid.UUID | None
    from_status: HoursStatus | None
    to_status: HoursStatus | None
    minutes: int | None
    reason: str | None
    correction_id: uuid.UUID | None
    at: datetime


class HoursDetail(HoursListItem):
    corrections: list[CorrectionOut]
    audit: list[AuditEntry]


class BulkDecisionResult(BaseModel):
    id: uuid.UUID
    ok: bool
    status: HoursStatus | None = Field(description="The record's status after this request")
    code: str | None = Field(description="The problem code when not ok")
    detail: str | None


class BulkDecisionOut(BaseModel):
    results: list[BulkDecisionResult]
    succeeded: int
    failed: int


class BulkCreditOut(BaseModel):
    items: list[HoursRecordOut]


class CorrectionAccepted(BaseModel):
    correction: CorrectionOut
    replacement: HoursRecordOut


class MinutesByYear(BaseModel):
    year: int
    minutes: int


class MinutesByCategory(BaseModel):
    category: TeamCategory
    label: str
    minutes: int


class MinutesBySource(BaseModel):
    source: HoursSource
    minutes: int


class HoursTotals(BaseModel):
    approved_minutes: int
    pending_minutes: int
    by_year: list[MinutesByYear]
    by_category: list[MinutesByCategory]
    by_source: list[MinutesBySource]


class MyHours(BaseModel):
    totals: HoursTotals = Field(description="Approved minutes, whatever page is asked for")
    items: list[HoursListItem]
    next_cursor: str | None = None
