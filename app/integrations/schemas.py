"""Response bodies of `app.integrations`: outbox events as staff see them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class OutboxStatus(StrEnum):
    pending = "pending"  # waiting for its first or next attempt
    delivered = "delivered"
    dead = "dead"  # out of attempts: waits for a manual retry


class OutboxRetry(BaseModel):
    retried_by_id: uuid.UUID = Field(description="The staff account that asked for the retry")
    retried_at: datetime
    attempts: int = Field(description="Attempts the event had used when it was retried")
    last_error: str | None = Field(description="The error it had last failed with")


class OutboxEvent(BaseModel):
    id: uuid.UUID
    region_id: uuid.UUID
    topic: str
    payload: dict[str, Any]
    status: OutboxStatus
    attempts: int = Field(description="Failed attempts since it was emitted or last retried")
    last_error: str | None = Field(
        description="The last failure: its type and first line, redacted and truncated"
    )
    created_at: datetime
    available_at: datetime = Field(description="When a worker may next try it")
    processed_at: datetime | None
    dead_at: datetime | None
    retries: list[OutboxRetry] = Field(description="Manual retries, oldest first")
