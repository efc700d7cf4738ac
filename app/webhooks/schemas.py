"""Bodies of the webhook routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.core.clock import Instant
from app.core.schemas import RequestSchema, Schema
from app.webhooks.models import EndpointStatus, MessageStatus

EventTypes = list[str]


class EndpointCreate(RequestSchema):
    url: str = Field(min_length=1, max_length=2048, description="Where messages are POSTed")
    description: str = Field(default="", max_length=200)
    event_types: EventTypes = Field(
        min_length=1, max_length=20, description="Event types of `GET /v1/webhook-events`"
    )


class EndpointUpdate(RequestSchema):
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    description: str | None = Field(default=None, max_length=200)
    event_types: EventTypes | None = Field(default=None, min_length=1, max_length=20)
    enabled: bool | None = Field(
        default=None, description="false stops deliveries; true resumes them (and the clock)"
    )


class SecretOut(Schema):
    created_at: datetime
    expires_at: datetime | None = Field(
        description="When a rotated secret stops signing; null for the current one"
    )


class Endpoint(Schema):
    id: uuid.UUID
    client_id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    status: EndpointStatus
    disabled_reason: str | None = Field(
        description="`client` (disabled by request) or `failing` (after days of failures)"
    )
    failing_since: datetime | None = Field(
        description="The first failed attempt since the last delivery"
    )
    secrets: list[SecretOut]
    created_at: datetime
    updated_at: datetime


class EndpointCreated(Endpoint):
    secret: str | None = Field(
        description="The signing secret (`whsec_…`), shown in this answer only; null in a "
        "replay of the request"
    )


class SecretRotated(Schema):
    secret: str | None = Field(description="The new signing secret, shown once")
    previous_expires_at: datetime | None = Field(
        description="Until then messages are signed with both secrets"
    )
    endpoint: Endpoint


class Message(Schema):
    id: uuid.UUID
    webhook_id: str = Field(description="The `webhook-id` header of every attempt")
    event_type: str
    event_id: uuid.UUID | None
    status: MessageStatus
    attempts: int
    payload: dict[str, Any] = Field(description="The body sent")
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None


class Attempt(Schema):
    id: uuid.UUID
    attempted_at: datetime
    succeeded: bool
    response_status: int | None
    latency_ms: int
    response_body: str = Field(description="The first KiB of the receiver's answer")
    error: str | None = Field(description="Why no answer counted (timeout, address refused…)")


class Recover(RequestSchema):
    since: Instant = Field(description="Failed messages created at or after this instant")


class Recovered(Schema):
    requeued: int = Field(description="How many failed messages are pending again")


class EventTypeOut(Schema):
    name: str
    description: str
    scope: str = Field(description="The client scope an endpoint's client needs for it")
    payload_schema: dict[str, Any] = Field(description="JSON Schema of the message's `data`")
