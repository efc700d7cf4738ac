"""Request and response bodies of `app.orgs`: regions, org units, teams, staff and grants."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Self
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    SecretStr,
    StrictBool,
    StrictFloat,
    StringConstraints,
    model_validator,
)

from app.core.schemas import RequestSchema, Schema
from app.orgs.models import Role, TeamCategory, UnitKind

# Printable text only: a name with a control character in it is an accident or an attack.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


def _text(max_length: int) -> StringConstraints:
    return StringConstraints(
        strip_whitespace=True, min_length=1, max_length=max_length, pattern=_PRINTABLE
    )


Name = Annotated[str, _text(100)]
Address = Annotated[str, _text(200)]
# GCJ-02 is defined only over China; these are the bounds its conversion formulas use.
Latitude = Annotated[StrictFloat, Field(ge=0.8293, le=55.8271, allow_inf_nan=False)]
Longitude = Annotated[StrictFloat, Field(ge=72.004, le=137.8347, allow_inf_nan=False)]


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _known_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError("not an IANA time zone name (e.g. Asia/Shanghai)")
    return value


TimeZoneName = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_known_zone)
]


def _refuse_nulls(model: BaseModel, *fields: str) -> None:
    """A PATCH may omit these fields but may not clear them."""
    for name in fields:
        if name in model.model_fields_set and getattr(model, name) is None:
            raise ValueError(f"{name} may be omitted but not null")


# Regions


class Region(Schema):
    id: uuid.UUID
    code: str
    name: str
    timezone: str
    created_at: datetime
    updated_at: datetime


class RegionUpdate(RequestSchema):
    name: Name | None = None
    timezone: TimeZoneName | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        _refuse_nulls(self, "name", "timezone")
        return self


# Org units


class SevenHaves(RequestSchema):
    """The 七有 of a unit. In an update, only the attributes sent change."""

    sign: StrictBool = Field(default=False, description="有牌子: the unit's sign is up")
    service_post: StrictBool = Field(default=False, description="有阵地: a staffed service post")
    team: StrictBool = Field(default=False, description="有队伍: at least one volunteer team")
    rules: StrictBool = Field(default=False, description="有制度: written working rules")
    plan: StrictBool = Field(default=False, description="有计划: a yearly activity plan")
    activities: StrictBool = Field(default=False, description="有活动: regular activities")
    feature: Annotated[str, _text(200)] | None = Field(
        default=None, description="有特色: the unit's distinctive service, or null"
    )


class OrgUnit(BaseModel):
    id: uuid.UUID
    region_id: uuid.UUID
    parent_id: uuid.UUID | None
    kind: UnitKind
    name: str
    address: str | None
    latitude: float | None = Field(description="GCJ-02")
    longitude: float | None = Field(description="GCJ-02")
    seven_haves: SevenHaves
    created_at: datetime
    updated_at: datetime


def _coordinates_together(sent: set[str], latitude: float | None, longitude: float | None) -> None:
    if len({"latitude", "longitude"} & sent) == 1:
        raise ValueError("latitude and longitude go together")
    if (latitude is None) != (longitude is None):
        raise ValueError("latitude and longitude are both set or both null")


class OrgUnitCreate(RequestSchema):
    parent_id: uuid.UUID = Field(description="Centers exist from set-up; every other unit has one")
    kind: UnitKind = Field(description="center → institute → station → point")
    name: Name
    address: Address | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    seven_haves: SevenHaves = Field(default_factory=SevenHaves)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _coordinates_together(self.model_fields_set, self.latitude, self.longitude)
        return self


class OrgUnitUpdate(RequestSchema):
    name: Name | None = None
    address: Address | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    seven_haves: SevenHaves | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        _refuse_nulls(self, "name", "seven_haves")
        _coordinates_together(self.model_fields_set, self.latitude, self.longitude)
        return self


# Teams


class Team(BaseModel):
    id: uuid.UUID
    region_id: uuid.UUID
    org_unit_id: uuid.UUID
    name: str
    category: TeamCategory
    category_label: str = Field(description="The category's Chinese name, or the custom one")
    custom_category: str | None
    description: str | None
    created_at: datetime
    updated_at: datetime


CustomCategory = Annotated[str, _text(50)]
Description = Annotated[str, _text(1000)]


class TeamCreate(RequestSchema):
    org_unit_id: uuid.UUID
    name: Name
    category: TeamCategory
    custom_category: CustomCategory | None = Field(
        default=None, description="Required when category is `custom`, absent otherwise"
    )
    description: Description | None = None


class TeamUpdate(RequestSchema):
    name: Name | None = None
    category: TeamCategory | None = None
    custom_category: CustomCategory | None = None
    description: Description | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        _refuse_nulls(self, "name", "category")
        return self


# Staff and grants

Username = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
]
Password = Annotated[SecretStr, Field(min_length=12, max_length=128)]


class Grant(Schema):
    id: uuid.UUID
    staff_id: uuid.UUID
    org_unit_id: uuid.UUID
    role: Role
    granted_by: uuid.UUID | None
    created_at: datetime
    revoked_at: datetime | None = Field(description="Set once revoked: the role is gone")
    revoked_by: uuid.UUID | None
    revoked_reason: str | None


class GrantCreate(RequestSchema):
    org_unit_id: uuid.UUID
    role: Role


class GrantRevoke(RequestSchema):
    reason: Annotated[str, _text(500)] = Field(description="Why; kept with the revoked grant")


class Staff(BaseModel):
    id: uuid.UUID
    region_id: uuid.UUID
    username: str
    display_name: str
    is_active: bool
    grants: list[Grant]
    created_at: datetime
    updated_at: datetime


class StaffCreate(RequestSchema):
    username: Username = Field(description="Lower-case letters, digits, `_`, `.`, `-`")
    display_name: Name
    password: Password = Field(description="The initial password, 12 to 128 characters")
    grants: list[GrantCreate] = Field(
        min_length=1, max_length=20, description="Every account starts with a role somewhere"
    )

    @model_validator(mode="after")
    def _distinct_grants(self) -> Self:
        pairs = {(g.org_unit_id, g.role) for g in self.grants}
        if len(pairs) != len(self.grants):
            raise ValueError("a grant is listed twice")
        return self


class StaffUpdate(RequestSchema):
    display_name: Name | None = None
    is_active: StrictBool | None = None
    password: Password | None = Field(default=None, description="Sets a new password")

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        _refuse_nulls(self, "display_name", "is_active", "password")
        return self
