"""Request and response bodies of `app.volunteers`: profiles, star levels and the
service record."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from itertools import pairwise
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.activities.hours.models import HoursSource
from app.core.schemas import RequestSchema
from app.orgs.models import TeamCategory
from app.volunteers.models import MAX_STARS, IdType

_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

PersonName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=_PRINTABLE)
]
IdNumber = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_upper=True, min_length=1, max_length=32, pattern=r"^[0-9A-Za-z]+$"
    ),
]
Skill = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30, pattern=_PRINTABLE)
]
MAX_SKILLS = 20


class VolunteerProfile(BaseModel):
    """A volunteer as an OAuth client (`volunteers:read`) sees them: no ID number and no
    phone at all, not even masked."""

    id: uuid.UUID
    region_id: uuid.UUID
    volunteer_no: str
    name: str | None
    skills: list[str]
    service_categories: list[TeamCategory]
    created_at: datetime
    updated_at: datetime


class Volunteer(VolunteerProfile):
    """A volunteer as others see them: ID number and phone masked."""

    id_type: IdType | None
    id_number: str | None = Field(examples=["3201**********1234"])
    id_verified: bool = Field(
        description="Staff have seen the document: until then the ID number is a claim"
    )
    phone: str | None = Field(examples=["138****5678"])


class MyProfile(Volunteer):
    """The caller's own profile: nothing masked."""


class ProfileUpdate(RequestSchema):
    """Fields sent change; fields left out stay. `id_type` and `id_number` go together."""

    name: PersonName | None = None
    id_type: IdType | None = None
    id_number: IdNumber | None = Field(
        default=None,
        description="Checked against `id_type`; an 18-digit resident ID's checksum. "
        "A claim until staff verify it; a changed number is unverified again",
    )
    skills: list[Skill] | None = Field(default=None, max_length=MAX_SKILLS)
    service_categories: list[TeamCategory] | None = Field(
        default=None, max_length=len(TeamCategory) - 1
    )

    @model_validator(mode="before")
    @classmethod
    def _phone_is_bound_elsewhere(cls, data: Any) -> Any:
        # A phone is personal data WeChat has verified; a profile edit must not forge one.
        if isinstance(data, dict) and "phone" in data:
            raise ValueError("phone is bound through POST /v1/me/phone, not set here")
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        sent = self.model_fields_set
        for name in ("name", "skills", "service_categories"):
            if name in sent and getattr(self, name) is None:
                raise ValueError(f"{name} may be omitted but not null")
        if ("id_type" in sent) != ("id_number" in sent):
            raise ValueError("id_type and id_number are sent together")
        if (self.id_type is None) != (self.id_number is None):
            raise ValueError("id_type and id_number are both set or both null")
        if self.service_categories is not None:
            if TeamCategory.custom in self.service_categories:
                raise ValueError("service_categories are the standing team categories")
            if len(set(self.service_categories)) != len(self.service_categories):
                raise ValueError("service_categories repeat an entry")
        if self.skills is not None and len(set(self.skills)) != len(self.skills):
            raise ValueError("skills repeat an entry")
        return self


# Star levels


class StarThresholdsUpdate(RequestSchema):
    hours: list[Annotated[int, Field(ge=1, le=100_000)]] = Field(min_length=5, max_length=5)

    @field_validator("hours")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if any(b <= a for a, b in pairwise(value)):
            raise ValueError("thresholds must be strictly increasing")
        return value


class StarThresholdsOut(BaseModel):
    region_id: uuid.UUID
    hours: list[int] = Field(description="Cumulative approved hours for stars 1 to 5")
    is_default: bool


class StarLevel(BaseModel):
    level: int = Field(ge=0, le=MAX_STARS)
    approved_minutes: int
    thresholds_hours: list[int] = Field(description="Cumulative hours for stars 1 to 5")
    next_level: int | None = Field(description="None at the highest level")
    minutes_to_next_level: int | None


# The service record (志愿服务记录)


class BasicInformation(BaseModel):
    """个人基本信息: the owner's own record, so nothing is masked."""

    volunteer_id: uuid.UUID
    volunteer_no: str
    name: str | None
    id_type: IdType | None
    id_number: str | None
    phone: str | None
    skills: list[str]
    service_categories: list[str]
    region_id: uuid.UUID
    region_name: str
    registered_at: datetime


class OrganizerUnit(BaseModel):
    id: uuid.UUID
    name: str


class ServiceItem(BaseModel):
    """One approved service: 服务时间, 地点, 内容, 时长 and the 记录组织."""

    hours_record_id: uuid.UUID
    activity_id: uuid.UUID
    title: str
    category: TeamCategory
    category_label: str
    service_date: date
    starts_at: datetime
    ends_at: datetime
    place: str
    minutes: int
    source: HoursSource
    organizer: OrganizerUnit


class ServiceSection(BaseModel):
    """志愿服务情况: approved services, oldest first."""

    total_minutes: int
    activity_count: int
    items: list[ServiceItem]


class TrainingItem(BaseModel):
    """培训情况: a training the volunteer took."""

    title: str
    organizer: str
    trained_on: date
    minutes: int


class CommendationItem(BaseModel):
    """表彰奖励情况: an award."""

    title: str
    level: str = Field(description="e.g. national, provincial, city, district")
    awarded_by: str
    awarded_on: date


class EvaluationItem(BaseModel):
    """评价情况: an organization's evaluation of the volunteer's service."""

    evaluator: str
    rating: str
    comment: str | None
    evaluated_on: date


class ServiceRecord(BaseModel):
    generated_at: datetime
    basic_information: BasicInformation
    service: ServiceSection
    training: list[TrainingItem]
    commendations: list[CommendationItem]
    evaluations: list[EvaluationItem]
    star: StarLevel


class PartnerBasicInformation(BaseModel):
    """个人基本信息 as an OAuth client (`records:read`) gets it: no ID and no phone."""

    volunteer_id: uuid.UUID
    volunteer_no: str
    name: str | None
    skills: list[str]
    service_categories: list[str]
    region_id: uuid.UUID
    region_name: str
    registered_at: datetime


class PartnerServiceRecord(BaseModel):
    """A volunteer's service record as a partner platform reads it."""

    generated_at: datetime
    basic_information: PartnerBasicInformation
    service: ServiceSection
    training: list[TrainingItem]
    commendations: list[CommendationItem]
    evaluations: list[EvaluationItem]
    star: StarLevel
