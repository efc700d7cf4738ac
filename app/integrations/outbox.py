"""The transactional outbox: events written in the same transaction as their cause.

`emit()` adds a row beside the change that caused it, so an event exists if and
only if its cause committed. A worker claims pending rows with
`FOR UPDATE SKIP LOCKED` (several workers may run) and hands each to the
handlers registered for its topic, inside the worker's own transaction; an
event is marked processed in the same transaction as the handlers' effects, so
a crash replays it and handlers must be idempotent (they are keyed on the
event's cause, e.g. one issuance per hours record).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin, fetch_rows

log = logging.getLogger("liangpiao.outbox")

Handler = Callable[[AsyncSession, "OutboxEvent"], Awaitable[None]]
_handlers: dict[str, list[Handler]] = {}


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_pending", "processed_at", "available_at"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    available_at: Mapped[datetime] = mapped_column(default=clock.now)
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))


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
    }
    # A core insert: the caller's unit of work has nothing to add to the row, and a
    # flush of one new object costs the request paths that emit more than the insert.
    await fetch_rows(session, _INSERT_EVENT, values)
    return event_id


def subscribe(topic: str, handler: Handler) -> None:
    handlers = _handlers.setdefault(topic, [])
    if handler not in handlers:
        handlers.append(handler)


async def dispatch_batch(sessions: async_sessionmaker[AsyncSession], *, limit: int = 100) -> int:
    """Process up to `limit` pending events, each in its own transaction. Returns how many."""
    done = 0
    for _ in range(limit):
        async with sessions() as session, session.begin():
            now = clock.now()
            event = await session.scalar(
                select(OutboxEvent)
                .where(OutboxEvent.processed_at.is_(None), OutboxEvent.available_at <= now)
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
                event.attempts += 1
                event.last_error = f"{type(exc).__name__}: {exc}"[:500]
                event.available_at = now + timedelta(seconds=min(3600, 2**event.attempts))
            else:
                event.processed_at = now
            done += 1
    return done
