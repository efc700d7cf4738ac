"""The periodic producers of notifications: activity reminders, an hour before the start,
and warnings of 良票 that expire within 30 days. Each names its cause in the key (the
activity; the volunteer's lots expiring at one instant), so a run repeated, or run by
two workers at once, tells each person once."""

from __future__ import annotations

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import clock
from app.notifications import repository
from app.notifications.kinds import NotificationKind
from app.notifications.service import notify
from app.orgs.service import get_region

REMIND_BEFORE = timedelta(hours=1)
WARN_BEFORE = timedelta(days=30)
BATCH = 50


async def remind_activities(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Remind those signed up for published activities starting within the hour (and
    not already started); returns how many activities were looked at anew."""
    async with sessions() as session, session.begin():
        now = clock.now()
        activities = await repository.starting_between(
            session, after=now, until=now + REMIND_BEFORE, limit=500
        )
        done = await repository.reminded(session, [a.id for a in activities])
        fresh = [a for a in activities if f"activity:{a.id}" not in done][:BATCH]
        for activity in fresh:
            local = activity.starts_at.astimezone(
                ZoneInfo((await get_region(session, activity.region_id)).timezone)
            )
            await notify(
                session,
                region_id=activity.region_id,
                volunteer_ids=await repository.signed_up(session, activity.id),
                kind=NotificationKind.activity_reminder,
                key=f"activity:{activity.id}",
                title="活动即将开始",
                body=f"您报名的「{activity.title}」将于 {local:%H:%M} 在{activity.address}开始",
                data={
                    "activity_id": str(activity.id),
                    "activity_title": activity.title,
                    "starts_at": activity.starts_at.isoformat(),
                    "address": activity.address,
                },
            )
        return len(fresh)


async def warn_expiring_rewards(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Warn each volunteer of what expires in the next 30 days, once per expiry instant;
    returns how many were warned."""
    async with sessions() as session, session.begin():
        now = clock.now()
        balances = await repository.expiring_balances(session, after=now, until=now + WARN_BEFORE)
        keys = sorted({f"expiry:{row[2].isoformat()}" for row in balances})
        told = await repository.already_told(
            session, kind=str(NotificationKind.rewards_expiring), keys=keys
        )
        warned = 0
        for region_id, owner_id, expires_at, amount in balances:
            key = f"expiry:{expires_at.isoformat()}"
            volunteer_id = uuid.UUID(str(owner_id))
            if (volunteer_id, key) in told:
                continue
            timezone = (await get_region(session, region_id)).timezone
            day = expires_at.astimezone(ZoneInfo(timezone)) - timedelta(seconds=1)
            warned += await notify(
                session,
                region_id=region_id,
                volunteer_ids=[volunteer_id],
                kind=NotificationKind.rewards_expiring,
                key=key,
                title="良票即将过期",
                body=f"您有 {int(amount)} 良票将于 {day.year}年{day.month}月{day.day}日后过期，"
                "请尽快使用",
                data={"amount": int(amount), "expires_at": expires_at.isoformat()},
            )
            if warned >= 1000:
                break
        return warned
