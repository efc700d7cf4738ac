"""Request and response bodies of the platform's routes: regions and their first admins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.core.schemas import RequestSchema
from app.orgs.schemas import Name, Password, TimeZoneName, Username

RegionCode = Annotated[
    str, StringConstraints(min_length=2, max_length=32, pattern=r"^[a-z][a-z0-9-]*$")
]


class RegionCreate(RequestSchema):
    code: RegionCode = Field(
        description="Lower-case letters, digits and `-`, starting with a letter; unique. "
        "Volunteers name it on their first login (`region_code`)."
    )
    name: Name = Field(description="The district's name, such as 吴江区")
    timezone: TimeZoneName = Field(
        default="Asia/Shanghai", description="IANA name; the region's days end at its midnight"
    )


class PlatformRegion(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    timezone: str
    center_unit_id: uuid.UUID | None = Field(description="The root of the region's org tree")
    created_at: datetime
    updated_at: datetime


class CenterAdminCreate(RequestSchema):
    username: Username = Field(description="Lower-case letters, digits, `_`, `.`, `-`")
    display_name: Name | None = Field(default=None, description="Defaults to the username")
    password: Password | None = Field(
        default=None,
        description="The initial password, 12 to 128 characters; if omitted, one is made "
        "up and returned once",
    )


class CenterAdminCreated(BaseModel):
    staff_id: uuid.UUID
    region_id: uuid.UUID
    center_unit_id: uuid.UUID
    username: str
    display_name: str
    password: str | None = Field(
        description="The password made up for the account, shown in this response only "
        "(a replay shows null); null when the request set it"
    )
