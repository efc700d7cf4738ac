"""The outbox's tables: events awaiting delivery, and the manual retries of dead letters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin

LAST_ERROR_LENGTH = 500


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_pending", "processed_at", "dead_at", "available_at"),
        # The region's dead letters, newest first.
        Index("ix_outbox_events_region_id_dead_at", "region_id", "dead_at", "id"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    available_at: Mapped[datetime] = mapped_column(default=clock.now)
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_LENGTH))
    # Set when the attempts ran out: no worker claims the event until it is retried.
    dead_at: Mapped[datetime | None]


class OutboxRetry(IdMixin, Base):
    """A manual retry of a dead-lettered event: who asked, when, and what the event had
    used up and last failed with, kept after the retry resets them."""

    __tablename__ = "outbox_retries"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox_events.id"), index=True)
    retried_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    retried_at: Mapped[datetime] = mapped_column(default=clock.now)
    attempts: Mapped[int]
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_LENGTH))
