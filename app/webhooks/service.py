"""A client's webhook endpoints: saved, changed, their secrets rotated, their messages
read, redelivered and tested.

Every use case acts for the OAuth client whose token carries `webhooks:manage`, on its
own endpoints only: another client's endpoint, in this region or another, does not
exist (404). An endpoint subscribes to the event types its client's scopes cover
(`catalogue.EVENT_TYPES`); its URL passes `addresses.check_url`. The signing secret is
answered once, when it is made.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.config import Settings
from app.core.pagination import Page, PageParams, keyset_page
from app.identity.principals import Principal
from app.webhooks import catalogue, repository, schemas
from app.webhooks.addresses import AddressRefused, check_url
from app.webhooks.errors import (
    WebhookEndpointDisabled,
    WebhookEndpointLimit,
    WebhookEndpointNotFound,
    WebhookEventTypeNotAllowed,
    WebhookEventTypeUnknown,
    WebhookMessageNotFound,
    WebhookUrlRefused,
)
from app.webhooks.models import (
    EndpointStatus,
    MessageStatus,
    WebhookEndpoint,
    WebhookMessage,
    WebhookSecret,
)
from app.webhooks.signing import SecretBox, message_id, new_secret

MAX_ENDPOINTS_PER_CLIENT = 20


def _region(client: Principal) -> uuid.UUID:
    assert client.region_id is not None  # current_client guarantees it
    return client.region_id


def _checked_types(client: Principal, event_types: Sequence[str]) -> list[str]:
    unknown = sorted(set(event_types) - catalogue.EVENT_TYPES.keys())
    if unknown:
        raise WebhookEventTypeUnknown(
            f"Unknown event types: {unknown}; known: {sorted(catalogue.EVENT_TYPES)}"
        )
    allowed = catalogue.allowed_for(client.scopes)
    refused = sorted(set(event_types) - set(allowed))
    if refused:
        needed = sorted({catalogue.EVENT_TYPES[t].scope for t in refused})
        raise WebhookEventTypeNotAllowed(
            f"{refused} need the scopes {needed}, which the token does not carry"
        )
    return sorted(set(event_types))


def _checked_url(url: str, settings: Settings) -> str:
    try:
        return check_url(url, settings)
    except AddressRefused as refusal:
        raise WebhookUrlRefused(str(refusal)) from refusal


def _out(endpoint: WebhookEndpoint, secrets: Sequence[WebhookSecret]) -> schemas.Endpoint:
    return schemas.Endpoint(
        id=endpoint.id,
        client_id=endpoint.client_id,
        url=endpoint.url,
        description=endpoint.description,
        event_types=list(endpoint.event_types),
        status=endpoint.status,
        disabled_reason=endpoint.disabled_reason,
        failing_since=endpoint.failing_since,
        secrets=[schemas.SecretOut.model_validate(s) for s in secrets if _live(s)],
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def _live(secret: WebhookSecret) -> bool:
    return secret.expires_at is None or secret.expires_at > clock.now()


def message_out(message: WebhookMessage) -> schemas.Message:
    envelope = catalogue.Envelope.model_validate_json(message.body)
    return schemas.Message(
        id=message.id,
        webhook_id=message_id(message.id),
        event_type=message.event_type,
        event_id=message.event_id,
        status=message.status,
        attempts=message.attempts,
        payload=envelope.model_dump(mode="json"),
        created_at=message.created_at,
        next_attempt_at=message.next_attempt_at,
        delivered_at=message.delivered_at,
        failed_at=message.failed_at,
    )


async def _endpoint(
    session: AsyncSession, client: Principal, endpoint_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint:
    endpoint = await repository.endpoint_of_client(
        session, client_id=client.id, endpoint_id=endpoint_id, lock=lock
    )
    if endpoint is None or endpoint.region_id != client.region_id:
        raise WebhookEndpointNotFound()
    return endpoint


async def _endpoint_out(session: AsyncSession, endpoint: WebhookEndpoint) -> schemas.Endpoint:
    return _out(endpoint, await repository.secrets_of(session, endpoint_ids=[endpoint.id]))


def _add_secret(session: AsyncSession, endpoint: WebhookEndpoint, box: SecretBox) -> str:
    value = new_secret()
    session.add(
        WebhookSecret(
            id=uuid.uuid4(),
            endpoint_id=endpoint.id,
            region_id=endpoint.region_id,
            sealed=box.seal(value, endpoint_id=endpoint.id),
            created_at=clock.now(),
        )
    )
    return value


async def create_endpoint(
    session: AsyncSession, *, client: Principal, data: schemas.EndpointCreate, settings: Settings
) -> schemas.EndpointCreated:
    url = _checked_url(data.url, settings)
    event_types = _checked_types(client, data.event_types)
    if await repository.count_endpoints(session, client_id=client.id) >= MAX_ENDPOINTS_PER_CLIENT:
        raise WebhookEndpointLimit()
    now = clock.now()
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        region_id=_region(client),
        client_id=client.id,
        url=url,
        description=data.description,
        event_types=event_types,
        status=EndpointStatus.enabled,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    secret = _add_secret(session, endpoint, SecretBox(settings))
    await session.flush()
    out = await _endpoint_out(session, endpoint)
    return schemas.EndpointCreated(**out.model_dump(), secret=secret)


async def list_endpoints(
    session: AsyncSession, *, client: Principal, page: PageParams
) -> Page[schemas.Endpoint]:
    rows = await repository.endpoints_page(session, client_id=client.id, page=page)
    secrets = await repository.secrets_of(session, endpoint_ids=[e.id for e in rows])
    by_endpoint: dict[uuid.UUID, list[WebhookSecret]] = {}
    for secret in secrets:
        by_endpoint.setdefault(secret.endpoint_id, []).append(secret)
    return keyset_page(
        rows,
        page,
        key=lambda e: (e.created_at, e.id),
        out=lambda e: _out(e, by_endpoint.get(e.id, [])),
    )


async def get_endpoint(
    session: AsyncSession, *, client: Principal, endpoint_id: uuid.UUID
) -> schemas.Endpoint:
    return await _endpoint_out(session, await _endpoint(session, client, endpoint_id))


async def update_endpoint(
    session: AsyncSession,
    *,
    client: Principal,
    endpoint_id: uuid.UUID,
    data: schemas.EndpointUpdate,
    settings: Settings,
) -> schemas.Endpoint:
    endpoint = await _endpoint(session, client, endpoint_id, lock=True)
    if data.url is not None:
        endpoint.url = _checked_url(data.url, settings)
    if data.description is not None:
        endpoint.description = data.description
    if data.event_types is not None:
        endpoint.event_types = _checked_types(client, data.event_types)
    if data.enabled is True and endpoint.status == EndpointStatus.disabled:
        endpoint.status = EndpointStatus.enabled
        endpoint.disabled_reason = None
        endpoint.failing_since = None
    elif data.enabled is False and endpoint.status == EndpointStatus.enabled:
        endpoint.status = EndpointStatus.disabled
        endpoint.disabled_reason = "client"
    endpoint.updated_at = clock.now()
    await session.flush()
    return await _endpoint_out(session, endpoint)


async def rotate_secret(
    session: AsyncSession, *, client: Principal, endpoint_id: uuid.UUID, settings: Settings
) -> schemas.SecretRotated:
    """A new current secret; the previous one signs beside it for the overlap, and any
    older one still overlapping stops now (at most two sign at a time)."""
    endpoint = await _endpoint(session, client, endpoint_id, lock=True)
    now = clock.now()
    previous_expires_at = now + timedelta(seconds=settings.webhook_secret_overlap_seconds)
    for secret in await repository.secrets_of(session, endpoint_ids=[endpoint.id]):
        if secret.expires_at is None:
            secret.expires_at = previous_expires_at
        elif secret.expires_at > now:
            secret.expires_at = now
    value = _add_secret(session, endpoint, SecretBox(settings))
    endpoint.updated_at = now
    await session.flush()
    return schemas.SecretRotated(
        secret=value,
        previous_expires_at=previous_expires_at,
        endpoint=await _endpoint_out(session, endpoint),
    )


async def list_messages(
    session: AsyncSession,
    *,
    client: Principal,
    endpoint_id: uuid.UUID,
    status: MessageStatus | None,
    page: PageParams,
) -> Page[schemas.Message]:
    endpoint = await _endpoint(session, client, endpoint_id)
    rows = await repository.messages_page(
        session, endpoint_id=endpoint.id, status=status, page=page
    )
    return keyset_page(rows, page, key=lambda m: (m.created_at, m.id), out=message_out)


async def _message(
    session: AsyncSession,
    client: Principal,
    endpoint_id: uuid.UUID,
    message_id_: uuid.UUID,
    *,
    lock: bool = False,
) -> WebhookMessage:
    endpoint = await _endpoint(session, client, endpoint_id, lock=lock)
    message = await repository.message_of_endpoint(
        session, endpoint_id=endpoint.id, message_id=message_id_, lock=lock
    )
    if message is None:
        raise WebhookMessageNotFound()
    return message


async def list_attempts(
    session: AsyncSession,
    *,
    client: Principal,
    endpoint_id: uuid.UUID,
    message_id_: uuid.UUID,
    page: PageParams,
) -> Page[schemas.Attempt]:
    message = await _message(session, client, endpoint_id, message_id_)
    rows = await repository.attempts_page(session, message_id=message.id, page=page)
    return keyset_page(
        rows, page, key=lambda a: (a.attempted_at, a.id), out=schemas.Attempt.model_validate
    )


async def retry_message(
    session: AsyncSession, *, client: Principal, endpoint_id: uuid.UUID, message_id_: uuid.UUID
) -> schemas.Message:
    """Delivers the message again, at once and with its id: failed, delivered (a
    receiver that lost it) or pending (sooner than its backoff)."""
    message = await _message(session, client, endpoint_id, message_id_, lock=True)
    now = clock.now()
    if message.status != MessageStatus.pending or (
        message.next_attempt_at is not None and message.next_attempt_at > now
    ):
        if message.status != MessageStatus.pending:
            message.attempts = 0
        message.status = MessageStatus.pending
        message.next_attempt_at = now
        message.failed_at = None
        await session.flush()
    return message_out(message)


async def recover(
    session: AsyncSession,
    *,
    client: Principal,
    endpoint_id: uuid.UUID,
    data: schemas.Recover,
) -> schemas.Recovered:
    endpoint = await _endpoint(session, client, endpoint_id, lock=True)
    count = await repository.requeue_failed(
        session, endpoint_id=endpoint.id, since=data.since, now=clock.now()
    )
    return schemas.Recovered(requeued=count)


async def send_test(
    session: AsyncSession, *, client: Principal, endpoint_id: uuid.UUID
) -> schemas.Message:
    endpoint = await _endpoint(session, client, endpoint_id)
    if endpoint.status != EndpointStatus.enabled:
        raise WebhookEndpointDisabled()
    now = clock.now()
    data = catalogue.Ping(endpoint_id=endpoint.id, message="A test message from Liangpiao")
    message = WebhookMessage(
        id=uuid.uuid4(),
        region_id=endpoint.region_id,
        endpoint_id=endpoint.id,
        event_id=None,
        event_type="ping",
        body=catalogue.envelope("ping", now, data.model_dump(mode="json")),
        status=MessageStatus.pending,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(message)
    await session.flush()
    return message_out(message)


def event_types() -> list[schemas.EventTypeOut]:
    return [
        schemas.EventTypeOut(
            name=e.name,
            description=e.description,
            scope=e.scope,
            payload_schema=e.payload.model_json_schema(),
        )
        for e in catalogue.EVENT_TYPES.values()
    ]
