"""Bodies of the WeChat channel's routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from app.core.schemas import RequestSchema, Schema
from app.notifications.kinds import NotificationKind

TemplateId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
]
FieldKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
FieldSource = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MAX_FIELDS = 10
# wx.requestSubscribeMessage asks for at most three templates at a time.
MAX_RESULTS = 20


class Template(Schema):
    kind: NotificationKind
    template_id: str
    fields: dict[str, str] = Field(description="Each template field, fed by a data field")
    page: str | None
    created_by: uuid.UUID = Field(description="The center admin who set it")
    created_at: AwareDatetime
    updated_at: AwareDatetime


class TemplatePut(RequestSchema):
    template_id: TemplateId = Field(description="The template's id in the mini-program's account")
    fields: dict[FieldKey, FieldSource] = Field(
        min_length=1,
        max_length=MAX_FIELDS,
        description='Template field → the kind\'s data field: `{"thing1": "activity_title", '
        '"time2": "starts_at"}`. The key\'s type (`thing`, `time`, `date`, `number`, '
        "`amount`, `name`, `phrase`, `character_string`, `letter`, `symbol`, "
        "`car_number`) bounds the value; `phone_number` fields cannot be fed.",
    )
    page: (
        Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[!-~]+$")] | None
    ) = Field(default=None, description="The mini-program page the message opens")


class ConsentReport(RequestSchema):
    results: dict[TemplateId, Literal["accept", "reject", "ban", "filter"]] = Field(
        min_length=1,
        max_length=MAX_RESULTS,
        description="`wx.requestSubscribeMessage`'s answer: each `accept` allows one more "
        "message of the template, `reject` and `ban` none; `filter` changes nothing",
    )


class Consent(Schema):
    kind: NotificationKind
    template_id: str
    credits: int = Field(ge=0, description="Messages of this template the caller may be sent")


class Consents(Schema):
    items: list[Consent]
