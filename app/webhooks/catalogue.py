"""The events a webhook endpoint may subscribe to, each with the JSON Schema of its
payload and the scope its client needs.

Every message is the envelope `{"type", "timestamp", "data"}` Standard Webhooks
recommends; `data` is the event's payload as the outbox recorded it beside its cause:
ids, amounts and times, never an ID number or a phone. A client subscribes only to
the events whose scope it holds, as it could read the same facts through the API.
The catalogue is served at `GET /v1/webhook-events` and, with the envelope, as the
OpenAPI document's `webhooks`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Payload(BaseModel):
    """An event's `data`: exactly these fields (a test holds the emitters to them)."""

    model_config = ConfigDict(extra="forbid")


class HoursApproved(Payload):
    hours_record_id: uuid.UUID
    volunteer_id: uuid.UUID
    activity_id: uuid.UUID
    minutes: int = Field(ge=0)
    source: str = Field(description="How the hours were recorded: `checkin` or `manual`")
    supersedes_id: uuid.UUID | None = Field(description="The record this one corrects")
    service_date: str = Field(description="The region's calendar day of the service")
    approved_at: AwareDatetime
    approved_by: uuid.UUID


class HoursRejected(Payload):
    hours_record_id: uuid.UUID
    volunteer_id: uuid.UUID
    activity_id: uuid.UUID
    minutes: int = Field(ge=0)
    reason: str | None
    rejected_at: AwareDatetime
    rejected_by: uuid.UUID


class CorrectionRefused(Payload):
    correction_id: uuid.UUID
    hours_record_id: uuid.UUID
    volunteer_id: uuid.UUID
    activity_id: uuid.UUID
    reason: str | None
    refused_at: AwareDatetime
    refused_by: uuid.UUID


class RewardsIssued(Payload):
    issuance_id: uuid.UUID
    volunteer_id: uuid.UUID
    hours_record_id: uuid.UUID
    activity_id: uuid.UUID | None
    amount: int = Field(gt=0, description="良票 credited to the volunteer's wallet")
    transaction_id: uuid.UUID
    issued_at: AwareDatetime


class ActivityCancelled(Payload):
    activity_id: uuid.UUID
    org_unit_id: uuid.UUID
    title: str
    starts_at: AwareDatetime
    reason: str
    cancelled_at: AwareDatetime
    cancelled_by: uuid.UUID


class RedemptionSucceeded(Payload):
    redemption_id: uuid.UUID
    request_no: str
    merchant_id: uuid.UUID
    terminal_id: uuid.UUID
    volunteer_id: uuid.UUID
    offer_id: uuid.UUID | None
    reservation_id: uuid.UUID | None = Field(
        default=None, description="Set when the redemption picked up a reservation"
    )
    amount: int = Field(gt=0)
    transaction_id: uuid.UUID
    created_at: AwareDatetime


class RedemptionVoided(Payload):
    redemption_id: uuid.UUID
    request_no: str
    merchant_id: uuid.UUID
    volunteer_id: uuid.UUID
    amount: int = Field(gt=0)
    transaction_id: uuid.UUID
    voided_at: AwareDatetime


class RedemptionRefunded(Payload):
    redemption_id: uuid.UUID
    refund_no: str
    merchant_id: uuid.UUID
    volunteer_id: uuid.UUID
    amount: int = Field(gt=0)
    transaction_id: uuid.UUID
    refunded_at: AwareDatetime


class BlockSealed(Payload):
    block_id: uuid.UUID
    header: dict[str, Any] = Field(description="The block header that was signed")
    signed_header: str = Field(description="The header's canonical JSON, the signed bytes")
    block_hash: str
    signature: str
    algorithm: Literal["Ed25519"]


class EndpointDisabled(Payload):
    endpoint_id: uuid.UUID
    client_id: uuid.UUID
    url: str
    failing_since: AwareDatetime
    disabled_at: AwareDatetime


class Ping(Payload):
    endpoint_id: uuid.UUID
    message: str


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    scope: str
    payload: type[Payload]


EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType(
            "hours.approved",
            "A volunteer's hours were approved (a correction names the record it supersedes)",
            "hours:read",
            HoursApproved,
        ),
        EventType(
            "hours.rejected",
            "A volunteer's pending hours were rejected, with the reason",
            "hours:read",
            HoursRejected,
        ),
        EventType(
            "hours.correction_refused",
            "A correction a volunteer asked for was refused, with the reason",
            "hours:read",
            CorrectionRefused,
        ),
        EventType(
            "rewards.issued",
            "良票 were issued to a volunteer's wallet for approved hours",
            "ledger:read",
            RewardsIssued,
        ),
        EventType(
            "activity.cancelled",
            "A published or draft activity was cancelled",
            "activities:read",
            ActivityCancelled,
        ),
        EventType(
            "redemption.succeeded",
            "A merchant's terminal redeemed 良票 from a volunteer's wallet",
            "ledger:read",
            RedemptionSucceeded,
        ),
        EventType(
            "redemption.voided",
            "A redemption was voided on its business day; the 良票 went back",
            "ledger:read",
            RedemptionVoided,
        ),
        EventType(
            "redemption.refunded",
            "Part or all of a redemption was refunded to the volunteer",
            "ledger:read",
            RedemptionRefunded,
        ),
        EventType(
            "ledger.block_sealed",
            "A block of the region's ledger was sealed and signed",
            "ledger:read",
            BlockSealed,
        ),
        EventType(
            "webhook_endpoint.disabled",
            "One of the client's endpoints failed for days and was disabled; it is sent "
            "to the client's other endpoints that subscribe to it",
            "webhooks:manage",
            EndpointDisabled,
        ),
        EventType(
            "ping",
            "A test message sent on request (`POST /v1/webhook-endpoints/{id}/test`)",
            "webhooks:manage",
            Ping,
        ),
    )
}
# What a client asks of its endpoint without subscribing: the test ping.
ON_REQUEST = frozenset({"ping"})


class Envelope(BaseModel):
    """The body of every webhook message."""

    type: str = Field(description="The event type")
    timestamp: datetime = Field(description="When the event happened")
    data: dict[str, Any]


def envelope(event_type: str, at: datetime, data: dict[str, Any]) -> str:
    """The exact body of a message: compact JSON, the bytes that are signed."""
    body = Envelope(type=event_type, timestamp=at, data=data)
    return body.model_dump_json()


def allowed_for(scopes: tuple[str, ...] | list[str]) -> list[str]:
    return sorted(name for name, e in EVENT_TYPES.items() if e.scope in scopes)


def document(schema: dict[str, Any]) -> None:
    """The catalogue as the API document's `webhooks` (OpenAPI 3.1): one operation per
    event type, the request the receiver gets, with its headers and payload."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    headers = [
        {
            "name": "webhook-id",
            "in": "header",
            "required": True,
            "description": "The message's id, the same on every attempt: de-duplicate by it",
            "schema": {"type": "string"},
        },
        {
            "name": "webhook-timestamp",
            "in": "header",
            "required": True,
            "description": "Unix seconds of this attempt; refuse one far from your clock",
            "schema": {"type": "string"},
        },
        {
            "name": "webhook-signature",
            "in": "header",
            "required": True,
            "description": "Space-separated `v1,<base64 HMAC-SHA256>` of "
            "`{webhook-id}.{webhook-timestamp}.{body}`, one per live secret",
            "schema": {"type": "string"},
        },
    ]
    webhooks: dict[str, Any] = {}
    for event in EVENT_TYPES.values():
        name = "Webhook" + event.payload.__name__
        payload = event.payload.model_json_schema(ref_template="#/components/schemas/{model}")
        components[name] = payload
        components[f"{name}Message"] = {
            "type": "object",
            "title": f"{event.name} message",
            "required": ["type", "timestamp", "data"],
            "properties": {
                "type": {"type": "string", "const": event.name},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": {"$ref": f"#/components/schemas/{name}"},
            },
        }
        webhooks[event.name] = {
            "post": {
                "summary": event.description,
                "description": f"Needs the client scope `{event.scope}`.",
                "operationId": f"webhook_{event.name.replace('.', '_')}",
                "tags": ["webhooks"],
                "parameters": headers,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{name}Message"}
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Any 2xx within 10 s is a delivery; anything else, "
                        "or no answer, is retried"
                    }
                },
            }
        }
    schema["webhooks"] = webhooks
