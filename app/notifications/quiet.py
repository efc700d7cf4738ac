"""Quiet hours: 22:00 to 07:00 in the region's time zone, when nothing but an emergency
is pushed to a phone. A notification made then waits in the inbox, and its WeChat
message is sent at 07:00."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

QUIET_FROM = time(22, 0)
QUIET_UNTIL = time(7, 0)


def quiet_until(now: datetime, timezone: str) -> datetime | None:
    """When the quiet hours `now` falls in end, or None outside them."""
    local = now.astimezone(ZoneInfo(timezone))
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return None
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=local.tzinfo)
