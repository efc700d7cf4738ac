"""Request and response bodies of grids, enrolments, alerts, answers and the muster board."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.core.clock import Instant
from app.core.schemas import RequestSchema, Schema
from app.emergency.models import (
    AlertKind,
    AlertStatus,
    Answer,
    Availability,
    EnrolmentStatus,
    GridShape,
    Skill,
    Wave,
)
from app.orgs.schemas import Address, Latitude, Longitude, Name

Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"^[^\x00]*$"),
]
Message = Annotated[str, StringConstraints(max_length=1000, pattern=r"^[^\x00]*$")]
People = Annotated[int, Field(ge=0, le=10_000)]


class Point(BaseModel):
    """A position in GCJ-02, as the mini-program reports it."""

    latitude: Latitude
    longitude: Longitude


# Grids


class PolygonArea(RequestSchema):
    shape: Literal["polygon"]
    points: list[Point] = Field(
        min_length=3, max_length=200, description="The vertices in order, not closed"
    )


class CircleArea(RequestSchema):
    shape: Literal["circle"]
    center: Point
    radius_m: int = Field(ge=50, le=20_000)


Area = Annotated[PolygonArea | CircleArea, Field(discriminator="shape")]


class GridCreate(RequestSchema):
    org_unit_id: uuid.UUID = Field(description="A point (点) of the region")
    area: Area


class GridUpdate(RequestSchema):
    area: Area


class Grid(Schema):
    id: uuid.UUID
    region_id: uuid.UUID
    org_unit_id: uuid.UUID
    name: str = Field(description="The point's name")
    station_id: uuid.UUID | None = Field(description="The station the point is under")
    shape: GridShape
    polygon: list[Point] | None
    center: Point = Field(description="A circle's centre, or a polygon's vertices' mean")
    radius_m: int | None
    created_at: datetime
    updated_at: datetime


# Enrolments


class EnrolmentCreate(RequestSchema):
    skills: list[Skill] = Field(default_factory=list, max_length=len(Skill))
    availability: list[Availability] = Field(
        min_length=1,
        max_length=len(Availability),
        description="When the volunteer can usually come; `anytime` stands for all of them",
    )

    @model_validator(mode="after")
    def _each_once(self) -> Self:
        if len(set(self.skills)) != len(self.skills):
            raise ValueError("a skill is named twice")
        if len(set(self.availability)) != len(self.availability):
            raise ValueError("an availability is named twice")
        return self


class EnrolmentDecision(RequestSchema):
    reason: Reason | None = None


class Enrolment(Schema):
    id: uuid.UUID
    grid_id: uuid.UUID
    volunteer_id: uuid.UUID
    skills: list[Skill]
    availability: list[Availability]
    status: EnrolmentStatus
    asked_at: datetime
    decided_at: datetime | None
    decision_reason: str | None
    withdrawn_at: datetime | None


class TeamMember(Enrolment):
    """An enrolment as staff on the grid see it."""

    volunteer_name: str | None
    volunteer_no: str


class MyEnrolment(Enrolment):
    grid_name: str


# Alerts


class MusterPoint(BaseModel):
    name: Name
    address: Address
    latitude: Latitude
    longitude: Longitude


class AlertCreate(RequestSchema):
    grid_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    kind: AlertKind
    drill: bool = Field(default=False, description="An exercise (演练), not a real emergency")
    message: Message = ""
    muster: MusterPoint
    muster_by: Instant = Field(description="When the team should be at the muster point")
    needed_total: int = Field(ge=1, le=10_000, description="People needed in all")
    needed_skills: dict[Skill, People] = Field(
        default_factory=dict, description="Of them, how many with each skill"
    )
    escalate_after_seconds: int | None = Field(
        default=None,
        ge=60,
        le=86_400,
        description="How long each wave has to answer before the call widens; "
        "the service's default when omitted",
    )

    @model_validator(mode="after")
    def _grids_once(self) -> Self:
        if len(set(self.grid_ids)) != len(self.grid_ids):
            raise ValueError("a grid is named twice")
        return self


class StandDown(RequestSchema):
    reason: Reason


class AnswerCreate(RequestSchema):
    answer: Answer
    eta_minutes: int | None = Field(
        default=None, ge=0, le=1440, description="When coming: minutes until arrival"
    )

    @model_validator(mode="after")
    def _eta_when_coming(self) -> Self:
        if self.answer == Answer.not_coming and self.eta_minutes is not None:
            raise ValueError("eta_minutes is for an answer of coming")
        return self


class MyAnswer(Schema):
    alert_id: uuid.UUID
    answer: Answer
    eta_minutes: int | None
    version: int = Field(description="The alert's version this answer was written at")
    updated_at: datetime


class AlertGrid(Schema):
    grid_id: uuid.UUID
    org_unit_id: uuid.UUID
    name: str
    wave: Wave


class Counts(BaseModel):
    called: int
    coming: int
    not_coming: int
    no_answer: int


class SkillCount(BaseModel):
    skill: Skill
    needed: int
    coming: int = Field(description="People coming with the skill")


class Responder(BaseModel):
    volunteer_id: uuid.UUID
    name: str | None
    answer: Answer
    eta_minutes: int | None
    skills: list[Skill]
    wave: Wave
    answered_at: datetime


class Alert(BaseModel):
    """The alert and its muster board. `responders` only to staff; `my_answer` only to a
    called volunteer."""

    id: uuid.UUID
    region_id: uuid.UUID
    org_unit_id: uuid.UUID
    kind: AlertKind
    kind_label: str
    drill: bool
    message: str
    muster: MusterPoint
    muster_by: datetime
    needed_total: int
    needed_skills: dict[Skill, int]
    status: AlertStatus
    wave: Wave
    escalate_at: datetime | None
    activity_id: uuid.UUID = Field(description="The muster's activity: check in there")
    raised_at: datetime
    stood_down_at: datetime | None
    stand_down_reason: str | None
    version: int = Field(description="Grows with every change the board shows")
    grids: list[AlertGrid]
    counts: Counts
    skills: list[SkillCount]
    responders: list[Responder] | None = None
    my_answer: MyAnswer | None = None


class AlertSummary(BaseModel):
    id: uuid.UUID
    org_unit_id: uuid.UUID
    kind: AlertKind
    drill: bool
    muster_name: str
    muster_by: datetime
    needed_total: int
    status: AlertStatus
    wave: Wave
    raised_at: datetime
    stood_down_at: datetime | None
