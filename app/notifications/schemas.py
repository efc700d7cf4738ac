"""Bodies of `app.notifications`' routes."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.core.pagination import Page
from app.notifications.kinds import NotificationKind


class Notification(BaseModel):
    id: uuid.UUID
    kind: NotificationKind
    title: str
    body: str
    data: dict[str, Any] = Field(
        description="The facts behind it (ids, titles, times, amounts), by kind: "
        "`GET /v1/notification-kinds`"
    )
    created_at: AwareDatetime
    read_at: AwareDatetime | None


class Inbox(Page[Notification]):
    unread_count: int = Field(ge=0, description="Unread notifications in the whole inbox")


class ReadAll(BaseModel):
    marked: int = Field(ge=0, description="How many were unread and are read now")
    unread_count: int = Field(ge=0)


class KindOut(BaseModel):
    kind: NotificationKind
    description: str
    fields: list[str] = Field(description="The keys of its `data`")
    emergency: bool = Field(description="Reaches people whatever their preferences, at any hour")


class Preferences(BaseModel):
    muted_kinds: list[NotificationKind] = Field(
        description="Kinds not pushed to WeChat (they still reach the inbox)"
    )
    quiet_hours: bool = Field(
        description="Hold WeChat messages made between 22:00 and 07:00 (region time) "
        "until 07:00; emergencies are sent at once"
    )


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    muted_kinds: list[NotificationKind] = Field(max_length=len(NotificationKind))
    quiet_hours: bool
