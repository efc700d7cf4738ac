"""How the demo lives through its past: the dates it happened on, and scenes that run
one unit of work each at their instant on the server's clock.

The demo's history is not written as rows: every activity, check-in, approval and
redemption goes through the service that does it for real, at the time it happened,
so that every window, cap and refusal applies as it would have. `clock.travel` moves
the server's clock for the scene (this process only: the seed runs before the server).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.db import Database
from app.demo.openids import openid_for
from app.identity.models import StaffUser
from app.identity.principals import StaffContext, load_staff
from app.integrations import outbox
from app.orgs.models import OrgUnit
from app.volunteers.models import Volunteer

SATURDAY = 5


def _saturday_on_or_after(day: date) -> date:
    return day + timedelta(days=(SATURDAY - day.weekday()) % 7)


@dataclass(frozen=True)
class Calendar:
    """The demo's dates, from the region's today: two Saturdays of last month (so that
    the month can be settled), a few recent days, and the next Saturdays."""

    today: date
    timezone: str

    def at(self, day: date, hhmm: str) -> datetime:
        hours, minutes = (int(part) for part in hhmm.split(":"))
        return datetime(
            day.year, day.month, day.day, hours, minutes, tzinfo=ZoneInfo(self.timezone)
        )

    @property
    def last_month(self) -> date:
        """The first day of the previous month."""
        return (self.today.replace(day=1) - timedelta(days=1)).replace(day=1)

    @property
    def period(self) -> str:
        """Last month as settlement names it."""
        return f"{self.last_month.year}-{self.last_month.month:02d}"

    @property
    def first_saturday(self) -> date:
        """Last month's second Saturday (the 8th to the 14th)."""
        return _saturday_on_or_after(self.last_month + timedelta(days=7))

    @property
    def second_saturday(self) -> date:
        return self.first_saturday + timedelta(days=7)

    @property
    def next_saturday(self) -> date:
        return _saturday_on_or_after(self.today + timedelta(days=1))

    def days_ago(self, n: int) -> date:
        return self.today - timedelta(days=n)


@asynccontextmanager
async def scene(db: Database, when: datetime | None = None) -> AsyncIterator[AsyncSession]:
    """One unit of work at `when` (None: now), committed when the block ends."""
    with clock.travel(when) if when is not None else nullcontext():
        async with db.sessions() as session, session.begin():
            yield session


async def deliver_events(db: Database, when: datetime | None = None) -> None:
    """Run the outbox job until it is idle, as the worker would at `when`: approved hours
    become 良票 here (app.rewards)."""
    from app.worker import register_event_handlers

    register_event_handlers()
    with clock.travel(when) if when is not None else nullcontext():
        while await outbox.dispatch_batch(db.sessions):
            pass


async def staff(session: AsyncSession, username: str) -> StaffContext:
    user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise RuntimeError(f"the demo has no staff account {username!r}")
    return await load_staff(session, user)


async def volunteer(session: AsyncSession, login_code: str) -> Volunteer:
    found = await session.scalar(
        select(Volunteer).where(Volunteer.openid == openid_for(login_code))
    )
    if found is None:
        raise RuntimeError(f"the demo has no volunteer {login_code!r}")
    return found


async def unit(session: AsyncSession, region_id: uuid.UUID, name: str) -> OrgUnit:
    found = await session.scalar(
        select(OrgUnit).where(OrgUnit.region_id == region_id, OrgUnit.name == name)
    )
    if found is None:
        raise RuntimeError(f"the demo has no unit {name!r}")
    return found
