"""HTTP routes of `app.integrations`: the outbox's dead letters, `/v1/outbox/dead-letters`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, InvalidCursor, error_responses
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentStaff
from app.integrations import schemas, service
from app.integrations.errors import OutboxEventNotFound
from app.orgs.errors import CenterAdminRequired

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


@router.get(
    "/outbox/dead-letters",
    tags=["outbox"],
    summary="List the region's events that ran out of delivery attempts (center admins)",
    responses=error_responses(*AUTH_ERRORS, CenterAdminRequired, InvalidCursor),
)
async def list_outbox_dead_letters(
    session: SessionDep, staff: CurrentStaff, page: PageDep
) -> Page[schemas.OutboxEvent]:
    return await service.list_dead_letters(session, staff=staff, page=page)


@router.post(
    "/outbox/dead-letters/{event_id}/retry",
    tags=["outbox"],
    summary="Give a dead-lettered event a fresh round of attempts (center admins; idempotent)",
    responses=error_responses(*AUTH_ERRORS, CenterAdminRequired, OutboxEventNotFound),
)
async def retry_outbox_dead_letter(
    event_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> schemas.OutboxEvent:
    return await service.retry_event(session, staff=staff, event_id=event_id)
