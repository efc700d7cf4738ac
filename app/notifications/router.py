"""HTTP routes of `app.notifications`: the kinds of notification (public), and the
signed-in volunteer's inbox and preferences."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, InvalidCursor, error_responses
from app.core.pagination import PageDep
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentVolunteer
from app.notifications import schemas, service
from app.notifications.errors import EmergencyNotMutable, NotificationNotFound

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


@router.get(
    "/notification-kinds",
    tags=["notifications"],
    summary="The kinds of notification, with the data each carries",
)
async def list_notification_kinds() -> list[schemas.KindOut]:
    return service.kinds()


@router.get(
    "/me/notifications",
    tags=["notifications"],
    summary="The caller's inbox, newest first, with the unread count",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor),
)
async def list_my_notifications(
    session: SessionDep,
    volunteer: CurrentVolunteer,
    page: PageDep,
    unread: Annotated[bool, Query(description="Only the unread ones")] = False,
) -> schemas.Inbox:
    return await service.inbox(session, volunteer=volunteer, page=page, unread_only=unread)


@router.post(
    "/me/notifications/{notification_id}/read",
    tags=["notifications"],
    summary="Mark one of the caller's notifications read",
    responses=error_responses(*AUTH_ERRORS, NotificationNotFound),
)
async def mark_notification_read(
    notification_id: uuid.UUID, session: SessionDep, volunteer: CurrentVolunteer
) -> schemas.Notification:
    return await service.mark_read(session, volunteer=volunteer, notification_id=notification_id)


@router.post(
    "/me/notifications/read-all",
    tags=["notifications"],
    summary="Mark every notification of the caller's read",
    responses=error_responses(*AUTH_ERRORS),
)
async def mark_all_notifications_read(
    session: SessionDep, volunteer: CurrentVolunteer
) -> schemas.ReadAll:
    return await service.mark_all_read(session, volunteer=volunteer)


@router.get(
    "/me/notification-preferences",
    tags=["notifications"],
    summary="Which kinds the caller has muted on WeChat, and whether quiet hours apply",
    responses=error_responses(*AUTH_ERRORS),
)
async def get_my_notification_preferences(
    session: SessionDep, volunteer: CurrentVolunteer
) -> schemas.Preferences:
    return await service.preferences(session, volunteer=volunteer)


@router.put(
    "/me/notification-preferences",
    tags=["notifications"],
    summary="Set which kinds are pushed to WeChat and whether quiet hours apply",
    description="Muted kinds still reach the inbox. Emergency call-outs cannot be muted "
    "and ignore quiet hours.",
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, EmergencyNotMutable),
)
async def set_my_notification_preferences(
    body: schemas.PreferencesUpdate, session: SessionDep, volunteer: CurrentVolunteer
) -> schemas.Preferences:
    return await service.set_preferences(session, volunteer=volunteer, body=body)
