"""Request and response bodies of `app.volunteers`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.orgs.models import TeamCategory
from app.volunteers.models import IdType

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


class Volunteer(BaseModel):
    """A volunteer as others see them: ID number and phone masked."""

    id: uuid.UUID
    region_id: uuid.UUID
    volunteer_no: str
    name: str | None
    id_type: IdType | None
    id_number: str | None = Field(examples=["3201**********1234"])
    phone: str | None = Field(examples=["138****5678"])
    skills: list[str]
    service_categories: list[TeamCategory]
    created_at: datetime
    updated_at: datetime


class MyProfile(Volunteer):
    """The caller's own profile: nothing masked."""


class ProfileUpdate(BaseModel):
    """Fields sent change; fields left out stay. `id_type` and `id_number` go together."""

    model_config = ConfigDict(extra="forbid")

    name: PersonName | None = None
    id_type: IdType | None = None
    id_number: IdNumber | None = Field(
        default=None, description="Checked against `id_type`; an 18-digit resident ID's checksum"
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
