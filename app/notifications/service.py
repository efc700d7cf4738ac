"""Use cases of `app.notifications`: telling people, and their inbox.

`notify` is what every producer calls, in its own transaction: the outbox handlers
for events (hours decided, 良票 received, a redemption), the periodic jobs (activity
reminders, expiring lots), the emergency call-out. It writes one inbox row per person
and cause, whatever happens to any push, and a WeChat send for those who hold a credit
for the region's template of the kind and have not muted it; a send made in quiet
hours waits until they end, unless the kind is an emergency. A repeated cause (an
event delivered twice, two workers, a job run again) finds its rows and adds nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.db import new_id
from app.core.pagination import PageParams, keyset_page
from app.notifications import repository, schemas
from app.notifications.errors import EmergencyNotMutable, NotificationNotFound
from app.notifications.kinds import KINDS, NotificationKind
from app.notifications.models import (
    BODY_LENGTH,
    TITLE_LENGTH,
    Notification,
    NotificationPreference,
)
from app.notifications.quiet import quiet_until
from app.orgs.service import get_region
from app.volunteers.models import Volunteer


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


async def notify(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    volunteer_ids: Sequence[uuid.UUID],
    kind: NotificationKind,
    key: str,
    title: str,
    body: str,
    data: dict[str, Any],
) -> int:
    """Tell each person once about the cause `key`; returns how many were told now."""
    people = list(dict.fromkeys(volunteer_ids))
    if not people:
        return 0
    now = clock.now()
    rows = [
        {
            "id": new_id(),
            "region_id": region_id,
            "volunteer_id": person,
            "kind": str(kind),
            "key": key,
            "title": _clip(title, TITLE_LENGTH),
            "body": _clip(body, BODY_LENGTH),
            "data": data,
            "created_at": now,
            "read_at": None,
        }
        for person in people
    ]
    made = await repository.insert_notifications(session, rows)
    if made:
        await _queue_wechat(session, region_id=region_id, kind=kind, made=made)
    return len(made)


async def _queue_wechat(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    kind: NotificationKind,
    made: list[tuple[uuid.UUID, uuid.UUID]],
) -> None:
    template = await repository.template_for(session, region_id=region_id, kind=str(kind))
    if template is None:
        return
    people = [person for _, person in made]
    holders = await repository.with_credit(
        session, template_id=template.template_id, volunteer_ids=people
    )
    if not holders:
        return
    emergency = KINDS[kind].emergency
    preferences = {} if emergency else await repository.preferences_of(session, list(holders))
    now = clock.now()
    quiet_end = (
        None if emergency else quiet_until(now, (await get_region(session, region_id)).timezone)
    )
    sends = []
    for notification_id, person in made:
        if person not in holders:
            continue
        pref = preferences.get(person)
        if pref is not None and str(kind) in pref.muted_kinds:
            continue
        held = quiet_end is not None and (pref is None or pref.quiet_hours)
        sends.append(
            repository.send_row(
                region_id=region_id,
                notification_id=notification_id,
                volunteer_id=person,
                template_id=template.template_id,
                emergency=emergency,
                available_at=quiet_end if held and quiet_end is not None else now,
                now=now,
            )
        )
    await repository.insert_sends(session, sends)


def notification_out(row: Notification) -> schemas.Notification:
    return schemas.Notification(
        id=row.id,
        kind=NotificationKind(row.kind),
        title=row.title,
        body=row.body,
        data=row.data,
        created_at=row.created_at,
        read_at=row.read_at,
    )


async def inbox(
    session: AsyncSession, *, volunteer: Volunteer, page: PageParams, unread_only: bool
) -> schemas.Inbox:
    rows = await repository.inbox_page(
        session, volunteer_id=volunteer.id, page=page, unread_only=unread_only
    )
    listed = keyset_page(rows, page, key=lambda r: (r.created_at, r.id), out=notification_out)
    return schemas.Inbox(
        items=listed.items,
        next_cursor=listed.next_cursor,
        unread_count=await repository.unread_count(session, volunteer_id=volunteer.id),
    )


async def mark_read(
    session: AsyncSession, *, volunteer: Volunteer, notification_id: uuid.UUID
) -> schemas.Notification:
    row = await repository.own_notification(
        session, volunteer_id=volunteer.id, notification_id=notification_id
    )
    if row is None:
        raise NotificationNotFound()
    if row.read_at is None:
        row.read_at = clock.now()
        await session.flush()
    return notification_out(row)


async def mark_all_read(session: AsyncSession, *, volunteer: Volunteer) -> schemas.ReadAll:
    marked = await repository.mark_all_read(session, volunteer_id=volunteer.id, at=clock.now())
    return schemas.ReadAll(marked=marked, unread_count=0)


def kinds() -> list[schemas.KindOut]:
    return [
        schemas.KindOut(
            kind=kind,
            description=info.description,
            fields=list(info.fields),
            emergency=info.emergency,
        )
        for kind, info in KINDS.items()
    ]


async def preferences(session: AsyncSession, *, volunteer: Volunteer) -> schemas.Preferences:
    pref = await repository.preference(session, volunteer_id=volunteer.id)
    if pref is None:
        return schemas.Preferences(muted_kinds=[], quiet_hours=True)
    return schemas.Preferences(
        muted_kinds=[NotificationKind(k) for k in pref.muted_kinds], quiet_hours=pref.quiet_hours
    )


async def set_preferences(
    session: AsyncSession, *, volunteer: Volunteer, body: schemas.PreferencesUpdate
) -> schemas.Preferences:
    muted = sorted(set(body.muted_kinds))
    if any(KINDS[kind].emergency for kind in muted):
        raise EmergencyNotMutable()
    pref = await repository.preference(session, volunteer_id=volunteer.id)
    if pref is None:
        pref = NotificationPreference(volunteer_id=volunteer.id, region_id=volunteer.region_id)
        session.add(pref)
    pref.muted_kinds = [str(kind) for kind in muted]
    pref.quiet_hours = body.quiet_hours
    await session.flush()
    return schemas.Preferences(muted_kinds=muted, quiet_hours=body.quiet_hours)
