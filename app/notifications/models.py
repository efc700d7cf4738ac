"""Notifications' tables: the inbox, each person's preferences and WeChat send credits,
a region's subscribe-message templates, and the WeChat sends owed."""

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
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin, TimestampMixin

TITLE_LENGTH = 100
BODY_LENGTH = 500
LAST_ERROR_LENGTH = 500


class Notification(IdMixin, Base):
    """One thing one person was told. `key` names its cause (an outbox event, a
    reminder's activity, a lot), so that a replayed cause adds nothing."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("volunteer_id", "kind", "key"),
        Index("ix_notifications_inbox", "volunteer_id", "created_at", "id"),
        Index(
            "ix_notifications_unread",
            "volunteer_id",
            postgresql_where=text("read_at IS NULL"),
            sqlite_where=text("read_at IS NULL"),
        ),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"))
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    body: Mapped[str] = mapped_column(String(BODY_LENGTH))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None]


class NotificationPreference(Base):
    """What a person does not want pushed to WeChat, and whether quiet hours apply.
    No row: every kind, quiet hours on. The inbox holds every kind regardless."""

    __tablename__ = "notification_preferences"

    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"), primary_key=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    muted_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    quiet_hours: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class NotificationTemplate(IdMixin, TimestampMixin, Base):
    """A region's WeChat subscribe-message template for one kind: its id in the
    mini-program's account, and which of the kind's data fills each template field."""

    __tablename__ = "notification_templates"
    __table_args__ = (
        UniqueConstraint("region_id", "kind"),
        UniqueConstraint("region_id", "template_id"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    kind: Mapped[str] = mapped_column(String(40))
    template_id: Mapped[str] = mapped_column(String(64))
    # {"thing1": "activity_title", "time2": "starts_at", …}
    fields: Mapped[dict[str, str]] = mapped_column(JSON)
    # The mini-program page the message opens, e.g. "pages/activity/detail".
    page: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))


class NotificationConsent(Base):
    """How many subscribe messages of one template a person has accepted and not yet
    been sent: each acceptance in `wx.requestSubscribeMessage` allows one send."""

    __tablename__ = "notification_consents"
    __table_args__ = (CheckConstraint("credits >= 0", name="credits_not_negative"),)

    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    credits: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class SendStatus(StrEnum):
    pending = "pending"  # due at `available_at` (after quiet hours, or a retry's wait)
    sending = "sending"  # claimed by a worker until `lease_until`
    sent = "sent"  # WeChat accepted it
    fallback = "fallback"  # no credit, or the person refused: the inbox row is all
    dead = "dead"  # WeChat refused what we sent (our bug): kept, never retried


class WeChatSend(IdMixin, TimestampMixin, Base):
    """A subscribe message owed for one notification."""

    __tablename__ = "notification_wechat_sends"
    __table_args__ = (
        UniqueConstraint("notification_id"),
        Index("ix_notification_wechat_sends_due", "status", "available_at"),
        Index("ix_notification_wechat_sends_person", "volunteer_id", "sent_at"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifications.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"))
    template_id: Mapped[str] = mapped_column(String(64))
    emergency: Mapped[bool] = mapped_column(default=False)
    status: Mapped[SendStatus] = mapped_column(String(16), default=SendStatus.pending)
    available_at: Mapped[datetime] = mapped_column(default=clock.now)
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    errcode: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_LENGTH))
    sent_at: Mapped[datetime | None]
