"""The outbox's dead letters for staff: listing them, and retrying one by hand.

A region's center admins see its dead letters and retry them; anyone else of the
region is refused (403), and another region's events do not exist (404). A retry
gives the event a fresh round of attempts, available at once, and records who asked
and what the event had used up and failed with. Retrying an event that is not dead
(already retried, or delivered since) changes nothing and answers its state, so a
repeated request has the effect of one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import Page, PageParams, decode_keyset, keyset_cursor
from app.identity.principals import StaffContext
from app.integrations import repository, schemas
from app.integrations.errors import OutboxEventNotFound
from app.integrations.models import OutboxEvent, OutboxRetry
from app.orgs.authz import require_center_admin

log = logging.getLogger("liangpiao.outbox")


def _status(event: OutboxEvent) -> schemas.OutboxStatus:
    if event.dead_at is not None:
        return schemas.OutboxStatus.dead
    if event.processed_at is not None:
        return schemas.OutboxStatus.delivered
    return schemas.OutboxStatus.pending


def _event_out(event: OutboxEvent, retries: Sequence[OutboxRetry]) -> schemas.OutboxEvent:
    return schemas.OutboxEvent(
        id=event.id,
        region_id=event.region_id,
        topic=event.topic,
        payload=event.payload,
        status=_status(event),
        attempts=event.attempts,
        last_error=event.last_error,
        created_at=event.created_at,
        available_at=event.available_at,
        processed_at=event.processed_at,
        dead_at=event.dead_at,
        retries=[
            schemas.OutboxRetry(
                retried_by_id=r.retried_by_id,
                retried_at=r.retried_at,
                attempts=r.attempts,
                last_error=r.last_error,
            )
            for r in retries
        ],
    )


async def _with_retries(
    session: AsyncSession, *, region_id: uuid.UUID, events: Sequence[OutboxEvent]
) -> list[schemas.OutboxEvent]:
    retries = await repository.retries_of(
        session, region_id=region_id, event_ids=[e.id for e in events]
    )
    by_event: dict[uuid.UUID, list[OutboxRetry]] = {}
    for retry in retries:
        by_event.setdefault(retry.event_id, []).append(retry)
    return [_event_out(e, by_event.get(e.id, [])) for e in events]


async def list_dead_letters(
    session: AsyncSession, *, staff: StaffContext, page: PageParams
) -> Page[schemas.OutboxEvent]:
    require_center_admin(staff)
    after = decode_keyset(page.cursor)
    rows = await repository.dead_letters_page(
        session, region_id=staff.region_id, after=after, limit=page.limit
    )
    events = rows[: page.limit]
    next_cursor = None
    if len(rows) > page.limit:
        last = events[-1]
        assert last.dead_at is not None
        next_cursor = keyset_cursor(last.dead_at, last.id)
    items = await _with_retries(session, region_id=staff.region_id, events=events)
    return Page(items=items, next_cursor=next_cursor)


async def retry_event(
    session: AsyncSession, *, staff: StaffContext, event_id: uuid.UUID
) -> schemas.OutboxEvent:
    require_center_admin(staff)
    event = await repository.event_for_update(session, region_id=staff.region_id, event_id=event_id)
    if event is None:
        raise OutboxEventNotFound()
    if event.dead_at is not None:
        now = clock.now()
        session.add(
            OutboxRetry(
                region_id=event.region_id,
                event_id=event.id,
                retried_by_id=staff.id,
                retried_at=now,
                attempts=event.attempts,
                last_error=event.last_error,
            )
        )
        event.dead_at = None
        event.attempts = 0
        event.last_error = None
        event.available_at = now
        await session.flush()
        log.info(
            "outbox event retried",
            extra={"event_id": str(event.id), "topic": event.topic, "staff_id": str(staff.id)},
        )
    (out,) = await _with_retries(session, region_id=staff.region_id, events=[event])
    return out
