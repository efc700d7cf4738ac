"""Queries of `app.webhooks`. Every query names the client or the region it serves."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.models import ClientStatus, OAuthClient
from app.core.db import rowcount, session_insert
from app.core.pagination import PageParams, keyset_window
from app.webhooks.models import (
    EndpointStatus,
    MessageStatus,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
    WebhookSecret,
)


async def endpoint_of_client(
    session: AsyncSession, *, client_id: uuid.UUID, endpoint_id: uuid.UUID, lock: bool = False
) -> WebhookEndpoint | None:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.client_id == client_id
    )
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def endpoint_for_update(
    session: AsyncSession, *, endpoint_id: uuid.UUID
) -> WebhookEndpoint | None:
    return await session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).with_for_update()
    )


async def endpoints_page(
    session: AsyncSession, *, client_id: uuid.UUID, page: PageParams
) -> Sequence[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.client_id == client_id)
    stmt = keyset_window(
        stmt, page, time_column=WebhookEndpoint.created_at, id_column=WebhookEndpoint.id
    )
    return (await session.scalars(stmt)).all()


async def count_endpoints(session: AsyncSession, *, client_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.client_id == client_id)
    )
    return int(count or 0)


async def secrets_of(
    session: AsyncSession, *, endpoint_ids: Collection[uuid.UUID]
) -> Sequence[WebhookSecret]:
    if not endpoint_ids:
        return []
    stmt = (
        select(WebhookSecret)
        .where(WebhookSecret.endpoint_id.in_(endpoint_ids))
        .order_by(WebhookSecret.created_at, WebhookSecret.id)
    )
    return (await session.scalars(stmt)).all()


async def live_secrets_of(
    session: AsyncSession, *, endpoint_ids: Collection[uuid.UUID], now: datetime
) -> Sequence[WebhookSecret]:
    """The secrets that sign at `now`: the current one and a rotated one not yet expired."""
    return [
        s
        for s in await secrets_of(session, endpoint_ids=endpoint_ids)
        if s.expires_at is None or s.expires_at > now
    ]


async def subscribers(
    session: AsyncSession, *, region_id: uuid.UUID
) -> Sequence[tuple[WebhookEndpoint, list[str]]]:
    """The region's enabled endpoints of active clients, with their clients' scopes."""
    stmt = (
        select(WebhookEndpoint, OAuthClient.scopes)
        .join(OAuthClient, OAuthClient.id == WebhookEndpoint.client_id)
        .where(
            WebhookEndpoint.region_id == region_id,
            WebhookEndpoint.status == EndpointStatus.enabled,
            OAuthClient.status == ClientStatus.active,
            OAuthClient.region_id == region_id,
        )
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return [(endpoint, list(scopes)) for endpoint, scopes in (await session.execute(stmt)).all()]


async def add_messages(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Inserts messages; one an endpoint already has for the same event is left as it is."""
    if not rows:
        return 0
    insert = session_insert(session)
    result = await session.execute(
        insert(WebhookMessage)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
    )
    return rowcount(result)


async def messages_page(
    session: AsyncSession,
    *,
    endpoint_id: uuid.UUID,
    status: MessageStatus | None,
    page: PageParams,
) -> Sequence[WebhookMessage]:
    stmt = select(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint_id)
    if status is not None:
        stmt = stmt.where(WebhookMessage.status == status)
    stmt = keyset_window(
        stmt,
        page,
        time_column=WebhookMessage.created_at,
        id_column=WebhookMessage.id,
        newest_first=True,
    )
    return (await session.scalars(stmt)).all()


async def message_of_endpoint(
    session: AsyncSession, *, endpoint_id: uuid.UUID, message_id: uuid.UUID, lock: bool = False
) -> WebhookMessage | None:
    stmt = select(WebhookMessage).where(
        WebhookMessage.id == message_id, WebhookMessage.endpoint_id == endpoint_id
    )
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def attempts_page(
    session: AsyncSession, *, message_id: uuid.UUID, page: PageParams
) -> Sequence[WebhookAttempt]:
    stmt = select(WebhookAttempt).where(WebhookAttempt.message_id == message_id)
    stmt = keyset_window(
        stmt, page, time_column=WebhookAttempt.attempted_at, id_column=WebhookAttempt.id
    )
    return (await session.scalars(stmt)).all()


async def requeue_failed(
    session: AsyncSession, *, endpoint_id: uuid.UUID, since: datetime, now: datetime
) -> int:
    result = await session.execute(
        update(WebhookMessage)
        .where(
            WebhookMessage.endpoint_id == endpoint_id,
            WebhookMessage.status == MessageStatus.failed,
            WebhookMessage.created_at >= since,
        )
        .values(status=MessageStatus.pending, attempts=0, next_attempt_at=now, failed_at=None)
    )
    return rowcount(result)


async def due_messages(
    session: AsyncSession, *, now: datetime, limit: int, excluding: Collection[uuid.UUID]
) -> Sequence[tuple[WebhookMessage, str]]:
    """Pending messages due at `now` of enabled endpoints of active clients, with their
    endpoints' URLs, locked (`SKIP LOCKED`: another worker takes the others)."""
    stmt = (
        select(WebhookMessage, WebhookEndpoint.url)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
        .join(OAuthClient, OAuthClient.id == WebhookEndpoint.client_id)
        .where(
            WebhookMessage.status == MessageStatus.pending,
            WebhookMessage.next_attempt_at <= now,
            WebhookEndpoint.status == EndpointStatus.enabled,
            OAuthClient.status == ClientStatus.active,
        )
        .order_by(WebhookMessage.next_attempt_at, WebhookMessage.id)
        .limit(limit)
        .with_for_update(of=WebhookMessage, skip_locked=True)
    )
    if excluding:
        stmt = stmt.where(WebhookMessage.endpoint_id.not_in(list(excluding)))
    return [(m, url) for m, url in (await session.execute(stmt)).all()]


async def message_for_update(
    session: AsyncSession, *, message_id: uuid.UUID
) -> WebhookMessage | None:
    return await session.scalar(
        select(WebhookMessage).where(WebhookMessage.id == message_id).with_for_update()
    )


async def clear_failing(session: AsyncSession, *, endpoint_id: uuid.UUID) -> None:
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_not(None))
        .values(failing_since=None)
    )
