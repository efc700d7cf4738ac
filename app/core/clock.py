"""The server's clock. Windows, expiry and deadlines read it, never the client's.

Tests move it with `clock.travel()`; nothing else sets it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_offset = timedelta(0)


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC) + _offset


def today_in(tz: str) -> date:
    return now().astimezone(ZoneInfo(tz)).date()


@contextmanager
def travel(to: datetime) -> Iterator[None]:
    """Shift the clock so that `now()` is `to` (then keeps ticking) inside the block."""
    global _offset
    previous = _offset
    _offset = to - datetime.now(UTC)
    try:
        yield
    finally:
        _offset = previous
