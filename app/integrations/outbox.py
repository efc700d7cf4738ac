"""The transactional outbox: events written in the same transaction as their cause.

`emit()` adds a row beside the change that caused it, so an event exists if and
only if its cause committed. A worker claims pending rows with
`FOR UPDATE SKIP LOCKED` (several workers may run) and hands each to the
handlers registered for its topic, inside the worker's own transaction; an
event is marked processed in the same transaction as the handlers' effects, so
a crash replays it and handlers must be idempotent (they are keyed on the
event's cause, e.g. one issuance per hours record).

A failed delivery is tried again after an exponential backoff with jitter; after
`RetryPolicy.max_attempts` failures the event is dead-lettered (`dead_at` set,
its last error kept) and no worker claims it until a centre admin retries it by
hand (`app.integrations.service`). The kept error is redacted: a handler's message
may quote a secret or a person's data, and staff read it.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import clock
from app.core.config import Settings
from app.core.db import fetch_rows
from app.core.logging import redact
from app.integrations.models import LAST_ERROR_LENGTH, OutboxEvent

log = logging.getLogger("liangpiao.outbox")

Handler = Callable[[AsyncSession, "OutboxEvent"], Awaitable[None]]
_handlers: dict[str, list[Handler]] = {}


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing event is tried, and how long a worker waits in between."""

    max_attempts: int = 10
    base_seconds: float = 2.0
    max_seconds: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.outbox_max_attempts,
            base_seconds=settings.outbox_backoff_base_seconds,
            max_seconds=settings.outbox_backoff_max_seconds,
        )

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failure: doubling up to the cap, then drawn
        from its upper half, so that events failing together do not retry together."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** min(attempts - 1, 62))
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not a secret


def describe_failure(exc: BaseException) -> str:
    """The error an event keeps: its type and first line, redacted, at most 500 characters.

    A database error's text goes on with the statement, its parameters and the
    server's DETAIL line, which quotes the values of the row: only the driver's
    first line is kept.
    """
    name = type(exc).__name__
    message = str(exc)
    if isinstance(exc, StatementError) and exc.orig is not None:
        name = f"{name} ({type(exc.orig).__name__})"
        message = str(exc.orig)
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    text = redact(f"{name}: {first_line}" if first_line else name)
    if len(text) > LAST_ERROR_LENGTH:
        text = text[: LAST_ERROR_LENGTH - 1] + "…"
    return text


_INSERT_EVENT = insert(OutboxEvent.metadata.tables[OutboxEvent.__tablename__])


async def emit(
    session: AsyncSession, *, region_id: uuid.UUID, topic: str, payload: dict[str, Any]
) -> uuid.UUID:
    """Write the event beside its cause; returns the event's id."""
    now = clock.now()
    event_id = uuid.uuid4()
    values = {
        "id": event_id,
        "region_id": region_id,
        "topic": topic,
        "payload": payload,
        "created_at": now,
        "available_at": now,
        "processed_at": None,
        "attempts": 0,
        "last_error": None,
        "dead_at": None,
    }
    # A core insert: the caller's unit of work has nothing to add to the row, and a
    # flush of one new object costs the request paths that emit more than the insert.
    await fetch_rows(session, _INSERT_EVENT, values)
    return event_id


def subscribe(topic: str, handler: Handler) -> None:
    handlers = _handlers.setdefault(topic, [])
    if handler not in handlers:
        handlers.append(handler)


async def dispatch_batch(
    sessions: async_sessionmaker[AsyncSession],
    *,
    limit: int = 100,
    retry: RetryPolicy = RetryPolicy(),
) -> int:
    """Process up to `limit` pending events, each in its own transaction. Returns how many."""
    done = 0
    for _ in range(limit):
        async with sessions() as session, session.begin():
            now = clock.now()
            event = await session.scalar(
                select(OutboxEvent)
                .where(
                    OutboxEvent.processed_at.is_(None),
                    OutboxEvent.dead_at.is_(None),
                    OutboxEvent.available_at <= now,
                )
                .order_by(OutboxEvent.created_at, OutboxEvent.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if event is None:
                return done
            try:
                async with session.begin_nested():
                    for handler in _handlers.get(event.topic, []):
                        await handler(session, event)
            except Exception as exc:
                log.exception("outbox handler failed", extra={"topic": event.topic})
                _failed(event, exc, now=now, retry=retry)
            else:
                event.processed_at = now
            done += 1
    return done


def _failed(event: OutboxEvent, exc: Exception, *, now: datetime, retry: RetryPolicy) -> None:
    event.attempts += 1
    event.last_error = describe_failure(exc)
    if event.attempts >= retry.max_attempts:
        event.dead_at = now
        log.error(
            "outbox event dead-lettered",
            extra={"event_id": str(event.id), "topic": event.topic, "attempts": event.attempts},
        )
    else:
        event.available_at = now + retry.delay(event.attempts)
