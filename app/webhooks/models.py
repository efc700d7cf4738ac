"""Webhooks' tables: a client's endpoints, their signing secrets, the messages owed to
each endpoint and every attempt to deliver one."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin, TimestampMixin

# What an attempt keeps of the receiver's answer: its first KiB.
RESPONSE_BODY_LENGTH = 1024


class EndpointStatus(StrEnum):
    enabled = "enabled"
    disabled = "disabled"  # by its client, or after failing for days on end


class MessageStatus(StrEnum):
    pending = "pending"  # due at `next_attempt_at`
    delivered = "delivered"  # a 2xx answered one attempt
    failed = "failed"  # every attempt of the schedule failed, until recovered


class WebhookEndpoint(IdMixin, TimestampMixin, Base):
    """A URL of a client's, with the event types it wants delivered to it."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_client", "client_id", "created_at", "id"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("oauth_clients.id"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[EndpointStatus] = mapped_column(String(16), default=EndpointStatus.enabled)
    # Why it is disabled: "client" (its own choice) or "failing".
    disabled_reason: Mapped[str | None] = mapped_column(String(16))
    # The first failed attempt since the last delivered one; None while it delivers.
    failing_since: Mapped[datetime | None]


class WebhookSecret(IdMixin, Base):
    """One of an endpoint's signing secrets, sealed with the service's key (AES-GCM):
    signing needs the secret itself, so it cannot be kept as a hash. A rotation gives
    the previous secret an `expires_at`; until then messages carry both signatures."""

    __tablename__ = "webhook_secrets"

    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime | None]


class WebhookMessage(IdMixin, Base):
    """One event owed to one endpoint. Its id is the `webhook-id` a receiver
    de-duplicates by, and `body` the exact bytes signed: both are the same on every
    attempt. A message of an outbox event has the id `uuid5(event, endpoint)`, so it is
    named the moment the event commits."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_messages_due", "status", "next_attempt_at"),
        Index("ix_webhook_messages_endpoint", "endpoint_id", "created_at", "id"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id"))
    # The outbox event it delivers; None for a test ping.
    event_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("outbox_events.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[MessageStatus] = mapped_column(String(16), default=MessageStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=clock.now)
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]


class WebhookAttempt(IdMixin, Base):
    """One delivery attempt: what the receiver answered (or why nothing came back)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_message", "message_id", "attempted_at", "id"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_messages.id"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id"))
    attempted_at: Mapped[datetime] = mapped_column(default=clock.now)
    succeeded: Mapped[bool]
    response_status: Mapped[int | None]
    latency_ms: Mapped[int]
    response_body: Mapped[str] = mapped_column(String(RESPONSE_BODY_LENGTH), default="")
    # Why no answer counted: a timeout, a refused address, a connection error.
    error: Mapped[str | None] = mapped_column(String(200))
