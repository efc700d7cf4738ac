"""From the outbox to the endpoints: one message per subscribed endpoint and event.

The outbox event commits with its cause (`app.integrations.outbox`); the worker hands
it to `fan_out` in the transaction that marks it processed, so the messages exist if
and only if the event was processed, and a crash before that commit replays it. A
message's id is `uuid5(event id, endpoint id)`: fixed from the moment the event
committed, and the unique (endpoint, event) pair makes a replay add nothing twice.
An endpoint receives the events of its region that it subscribes to, while its
client is active and its scopes still cover them; `webhook_endpoint.disabled` goes
only to the endpoints of the client whose endpoint it names.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.integrations.models import OutboxEvent
from app.webhooks import catalogue, repository
from app.webhooks.models import MessageStatus

DISABLED = "webhook_endpoint.disabled"


def message_uuid(event_id: uuid.UUID, endpoint_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(event_id, str(endpoint_id))


async def fan_out(session: AsyncSession, event: OutboxEvent) -> None:
    spec = catalogue.EVENT_TYPES.get(event.topic)
    if spec is None:
        return
    owner = event.payload.get("client_id") if event.topic == DISABLED else None
    targets = [
        endpoint
        for endpoint, scopes in await repository.subscribers(session, region_id=event.region_id)
        if event.topic in endpoint.event_types
        and spec.scope in scopes
        and (owner is None or str(endpoint.client_id) == owner)
    ]
    if not targets:
        return
    body = catalogue.envelope(event.topic, event.created_at, event.payload)
    await repository.add_messages(
        session,
        [
            {
                "id": message_uuid(event.id, endpoint.id),
                "region_id": event.region_id,
                "endpoint_id": endpoint.id,
                "event_id": event.id,
                "event_type": event.topic,
                "body": body,
                "status": MessageStatus.pending,
                "attempts": 0,
                "created_at": event.created_at,
                "next_attempt_at": event.created_at,
                "delivered_at": None,
                "failed_at": None,
            }
            for endpoint in targets
        ],
    )


def subscribe_all() -> None:
    from app.integrations import outbox

    for name in catalogue.EVENT_TYPES:
        if name not in catalogue.ON_REQUEST:
            outbox.subscribe(name, fan_out)
