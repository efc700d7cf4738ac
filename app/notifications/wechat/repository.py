"""Queries of the WeChat channel: templates, credits and the sends owed.

A credit changes by one conditional statement (`credits + 1`, `credits - 1` where
some is left, `0`), never read and written back, so concurrent reports and sends
cannot lose one another's change; the table's CHECK keeps it from going below zero.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import rowcount, session_insert
from app.notifications.models import (
    Notification,
    NotificationConsent,
    NotificationTemplate,
    SendStatus,
    WeChatSend,
)
from app.orgs.models import Region
from app.volunteers.models import Volunteer


async def templates_of_region(
    session: AsyncSession, *, region_id: uuid.UUID
) -> Sequence[NotificationTemplate]:
    return (
        await session.scalars(
            select(NotificationTemplate)
            .where(NotificationTemplate.region_id == region_id)
            .order_by(NotificationTemplate.kind)
        )
    ).all()


async def template_of_kind(
    session: AsyncSession, *, region_id: uuid.UUID, kind: str
) -> NotificationTemplate | None:
    return await session.scalar(
        select(NotificationTemplate)
        .where(NotificationTemplate.region_id == region_id, NotificationTemplate.kind == kind)
        .with_for_update()
    )


async def kind_using(
    session: AsyncSession, *, region_id: uuid.UUID, template_id: str
) -> str | None:
    return await session.scalar(
        select(NotificationTemplate.kind).where(
            NotificationTemplate.region_id == region_id,
            NotificationTemplate.template_id == template_id,
        )
    )


async def delete_template(session: AsyncSession, *, region_id: uuid.UUID, kind: str) -> int:
    result = await session.execute(
        delete(NotificationTemplate).where(
            NotificationTemplate.region_id == region_id, NotificationTemplate.kind == kind
        )
    )
    return rowcount(result)


async def configured_ids(
    session: AsyncSession, *, region_id: uuid.UUID, template_ids: Collection[str]
) -> set[str]:
    return set(
        await session.scalars(
            select(NotificationTemplate.template_id).where(
                NotificationTemplate.region_id == region_id,
                NotificationTemplate.template_id.in_(list(template_ids)),
            )
        )
    )


async def add_credit(
    session: AsyncSession,
    *,
    volunteer_id: uuid.UUID,
    region_id: uuid.UUID,
    template_id: str,
    now: datetime,
) -> None:
    insert = session_insert(session)
    stmt = insert(NotificationConsent).values(
        volunteer_id=volunteer_id,
        template_id=template_id,
        region_id=region_id,
        credits=1,
        updated_at=now,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["volunteer_id", "template_id"],
            set_={"credits": NotificationConsent.credits + 1, "updated_at": now},
        )
    )


async def clear_credits(
    session: AsyncSession,
    *,
    volunteer_id: uuid.UUID,
    region_id: uuid.UUID,
    template_id: str,
    now: datetime,
) -> None:
    insert = session_insert(session)
    stmt = insert(NotificationConsent).values(
        volunteer_id=volunteer_id,
        template_id=template_id,
        region_id=region_id,
        credits=0,
        updated_at=now,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["volunteer_id", "template_id"],
            set_={"credits": 0, "updated_at": now},
        )
    )


async def consents_of(
    session: AsyncSession, *, volunteer_id: uuid.UUID, region_id: uuid.UUID
) -> Sequence[tuple[str, str, int | None]]:
    """The region's templates (kind, template id) with the person's credits, if any."""
    rows = await session.execute(
        select(
            NotificationTemplate.kind,
            NotificationTemplate.template_id,
            NotificationConsent.credits,
        )
        .outerjoin(
            NotificationConsent,
            (NotificationConsent.template_id == NotificationTemplate.template_id)
            & (NotificationConsent.volunteer_id == volunteer_id),
        )
        .where(NotificationTemplate.region_id == region_id)
        .order_by(NotificationTemplate.kind)
    )
    return [(kind, template_id, credits) for kind, template_id, credits in rows.all()]


async def take_credit(session: AsyncSession, *, volunteer_id: uuid.UUID, template_id: str) -> bool:
    """Spends one of the person's credits for the template; False when none is left."""
    result = await session.execute(
        update(NotificationConsent)
        .where(
            NotificationConsent.volunteer_id == volunteer_id,
            NotificationConsent.template_id == template_id,
            NotificationConsent.credits > 0,
        )
        .values(credits=NotificationConsent.credits - 1)
    )
    return rowcount(result) == 1


async def return_credit(
    session: AsyncSession, *, volunteer_id: uuid.UUID, template_id: str
) -> None:
    await session.execute(
        update(NotificationConsent)
        .where(
            NotificationConsent.volunteer_id == volunteer_id,
            NotificationConsent.template_id == template_id,
        )
        .values(credits=NotificationConsent.credits + 1)
    )


async def drop_credits(session: AsyncSession, *, volunteer_id: uuid.UUID, template_id: str) -> None:
    await session.execute(
        update(NotificationConsent)
        .where(
            NotificationConsent.volunteer_id == volunteer_id,
            NotificationConsent.template_id == template_id,
        )
        .values(credits=0)
    )


@dataclass(frozen=True)
class DueSend:
    send: WeChatSend
    data: dict[str, Any]
    openid: str
    timezone: str
    fields: dict[str, str] | None  # None: the region no longer has the template
    page: str | None


async def due_sends(session: AsyncSession, *, now: datetime, limit: int) -> list[DueSend]:
    """Pending sends due at `now` and sends whose lease ran out, emergencies first,
    locked (`SKIP LOCKED`: another worker takes the others)."""
    stmt = (
        select(
            WeChatSend,
            Notification.data,
            Volunteer.openid,
            Region.timezone,
            NotificationTemplate.fields,
            NotificationTemplate.page,
        )
        .join(Notification, Notification.id == WeChatSend.notification_id)
        .join(Volunteer, Volunteer.id == WeChatSend.volunteer_id)
        .join(Region, Region.id == WeChatSend.region_id)
        .outerjoin(
            NotificationTemplate,
            (NotificationTemplate.region_id == WeChatSend.region_id)
            & (NotificationTemplate.template_id == WeChatSend.template_id),
        )
        .where(
            or_(
                (WeChatSend.status == SendStatus.pending) & (WeChatSend.available_at <= now),
                (WeChatSend.status == SendStatus.sending) & (WeChatSend.lease_until < now),
            )
        )
        .order_by(WeChatSend.emergency.desc(), WeChatSend.available_at, WeChatSend.id)
        .limit(limit)
        .with_for_update(of=WeChatSend, skip_locked=True)
    )
    return [
        DueSend(send, data, openid, timezone, fields, page)
        for send, data, openid, timezone, fields, page in (await session.execute(stmt)).all()
    ]


async def sent_since(
    session: AsyncSession, *, volunteer_ids: Collection[uuid.UUID], since: datetime
) -> dict[uuid.UUID, list[datetime]]:
    """When each person was last sent messages that count against the hourly limit."""
    rows = await session.execute(
        select(WeChatSend.volunteer_id, WeChatSend.sent_at)
        .where(
            WeChatSend.volunteer_id.in_(list(volunteer_ids)),
            WeChatSend.sent_at >= since,
            WeChatSend.emergency.is_(False),
        )
        .order_by(WeChatSend.sent_at)
    )
    found: dict[uuid.UUID, list[datetime]] = {}
    for volunteer_id, sent_at in rows.all():
        if sent_at is not None:
            found.setdefault(volunteer_id, []).append(sent_at)
    return found


async def settle(
    session: AsyncSession, *, send_id: uuid.UUID, attempt: int, values: dict[str, Any]
) -> bool:
    """Records an attempt's outcome, if the send is still this attempt's: a lease that
    ran out may have handed it to another worker, whose outcome is the one kept."""
    result = await session.execute(
        update(WeChatSend)
        .where(
            WeChatSend.id == send_id,
            WeChatSend.status == SendStatus.sending,
            WeChatSend.attempts == attempt,
        )
        .values(**values)
    )
    return rowcount(result) == 1
