"""Queries of `app.notifications`. Every inbox query is filtered by its owner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, ActivityStatus, Signup, SignupStatus
from app.core.db import new_id, rowcount, session_insert
from app.core.pagination import PageParams, keyset_window
from app.ledger.models import Account, AccountKind, Lot
from app.merchants.models import Merchant
from app.notifications.models import (
    Notification,
    NotificationConsent,
    NotificationPreference,
    NotificationTemplate,
    WeChatSend,
)

# Rows per INSERT: SQLite allows 32,766 parameters a statement.
CHUNK = 500


async def insert_notifications(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Insert the rows whose (person, kind, key) is new; returns their (id, person)."""
    insert = session_insert(session)
    made: list[tuple[uuid.UUID, uuid.UUID]] = []
    for start in range(0, len(rows), CHUNK):
        stmt = (
            insert(Notification)
            .values(list(rows[start : start + CHUNK]))
            .on_conflict_do_nothing(index_elements=["volunteer_id", "kind", "key"])
            .returning(Notification.id, Notification.volunteer_id)
        )
        made.extend((row.id, row.volunteer_id) for row in (await session.execute(stmt)).all())
    return made


async def template_for(
    session: AsyncSession, *, region_id: uuid.UUID, kind: str
) -> NotificationTemplate | None:
    return await session.scalar(
        select(NotificationTemplate).where(
            NotificationTemplate.region_id == region_id, NotificationTemplate.kind == kind
        )
    )


async def with_credit(
    session: AsyncSession, *, template_id: str, volunteer_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """The people among `volunteer_ids` holding a send credit for the template."""
    found: set[uuid.UUID] = set()
    for start in range(0, len(volunteer_ids), CHUNK):
        chunk = list(volunteer_ids[start : start + CHUNK])
        found.update(
            await session.scalars(
                select(NotificationConsent.volunteer_id).where(
                    NotificationConsent.template_id == template_id,
                    NotificationConsent.volunteer_id.in_(chunk),
                    NotificationConsent.credits > 0,
                )
            )
        )
    return found


async def preferences_of(
    session: AsyncSession, volunteer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, NotificationPreference]:
    found: dict[uuid.UUID, NotificationPreference] = {}
    for start in range(0, len(volunteer_ids), CHUNK):
        chunk = list(volunteer_ids[start : start + CHUNK])
        for pref in await session.scalars(
            select(NotificationPreference).where(NotificationPreference.volunteer_id.in_(chunk))
        ):
            found[pref.volunteer_id] = pref
    return found


async def insert_sends(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    insert = session_insert(session)
    for start in range(0, len(rows), CHUNK):
        await session.execute(
            insert(WeChatSend)
            .values(list(rows[start : start + CHUNK]))
            .on_conflict_do_nothing(index_elements=["notification_id"])
        )


def send_row(
    *,
    region_id: uuid.UUID,
    notification_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    template_id: str,
    emergency: bool,
    available_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "region_id": region_id,
        "notification_id": notification_id,
        "volunteer_id": volunteer_id,
        "template_id": template_id,
        "emergency": emergency,
        "status": "pending",
        "available_at": available_at,
        "lease_until": None,
        "attempts": 0,
        "errcode": None,
        "last_error": None,
        "sent_at": None,
        "created_at": now,
        "updated_at": now,
    }


async def inbox_page(
    session: AsyncSession, *, volunteer_id: uuid.UUID, page: PageParams, unread_only: bool
) -> Sequence[Notification]:
    stmt = select(Notification).where(Notification.volunteer_id == volunteer_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    stmt = keyset_window(
        stmt,
        page,
        time_column=Notification.created_at,
        id_column=Notification.id,
        newest_first=True,
    )
    return (await session.scalars(stmt)).all()


async def unread_count(session: AsyncSession, *, volunteer_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.volunteer_id == volunteer_id, Notification.read_at.is_(None))
    )
    return int(count or 0)


async def own_notification(
    session: AsyncSession, *, volunteer_id: uuid.UUID, notification_id: uuid.UUID
) -> Notification | None:
    return await session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.volunteer_id == volunteer_id
        )
    )


async def mark_all_read(session: AsyncSession, *, volunteer_id: uuid.UUID, at: datetime) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.volunteer_id == volunteer_id, Notification.read_at.is_(None))
        .values(read_at=at)
    )
    return rowcount(result)


async def preference(
    session: AsyncSession, *, volunteer_id: uuid.UUID
) -> NotificationPreference | None:
    return await session.get(NotificationPreference, volunteer_id)


# What producers' events name, read for the words of a notification.


async def activity_title(session: AsyncSession, activity_id: uuid.UUID) -> str:
    title = await session.scalar(select(Activity.title).where(Activity.id == activity_id))
    return title or ""


async def merchant_name(session: AsyncSession, merchant_id: uuid.UUID) -> str:
    name = await session.scalar(select(Merchant.name).where(Merchant.id == merchant_id))
    return name or ""


async def signed_up(session: AsyncSession, activity_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        await session.scalars(
            select(Signup.volunteer_id).where(
                Signup.activity_id == activity_id, Signup.status == SignupStatus.active
            )
        )
    )


async def starting_between(
    session: AsyncSession, *, after: datetime, until: datetime, limit: int
) -> Sequence[Activity]:
    """Published activities starting in (after, until], soonest first."""
    return (
        await session.scalars(
            select(Activity)
            .where(
                Activity.status == ActivityStatus.published,
                Activity.starts_at > after,
                Activity.starts_at <= until,
            )
            .order_by(Activity.starts_at, Activity.id)
            .limit(limit)
        )
    ).all()


async def reminded(session: AsyncSession, activity_ids: Sequence[uuid.UUID]) -> set[str]:
    """The keys of the activities among `activity_ids` whose reminders are written."""
    keys = [f"activity:{a}" for a in activity_ids]
    if not keys:
        return set()
    return set(
        await session.scalars(
            select(Notification.key)
            .where(
                Notification.kind == "activity.reminder",
                Notification.key.in_(keys),
            )
            .distinct()
        )
    )


async def expiring_balances(
    session: AsyncSession, *, after: datetime, until: datetime
) -> Sequence[Any]:
    """What each volunteer holds in unspent lots expiring in (after, until], by instant of
    expiry: (region, volunteer, expires_at, amount)."""
    stmt = (
        select(Lot.region_id, Account.owner_id, Lot.expires_at, func.sum(Lot.remaining))
        .join(Account, Account.id == Lot.account_id)
        .where(
            Account.kind == AccountKind.wallet,
            Lot.remaining > 0,
            Lot.expires_at > after,
            Lot.expires_at <= until,
        )
        .group_by(Lot.region_id, Account.owner_id, Lot.expires_at)
        .order_by(Lot.expires_at, Account.owner_id)
    )
    return (await session.execute(stmt)).all()


async def already_told(
    session: AsyncSession, *, kind: str, keys: Sequence[str]
) -> set[tuple[uuid.UUID, str]]:
    """Who has a notification of `kind` for each of `keys` already."""
    if not keys:
        return set()
    rows = await session.execute(
        select(Notification.volunteer_id, Notification.key).where(
            Notification.kind == kind, Notification.key.in_(list(keys))
        )
    )
    return {(row[0], row[1]) for row in rows.all()}
