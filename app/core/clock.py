"""The server's clock. Windows, expiry and deadlines read it, never the client's.

Tests move it with `clock.travel()`, and so does the demo (`app.demo.timeline`), which
lives through its past on the real services before the server starts; nothing else
sets it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime

_offset = timedelta(0)

# The instants the service accepts: far enough inside `datetime`'s own range that moving
# one to UTC or to any offset cannot overflow (year 1 at +14:00 would, in the driver).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def within_range(value: datetime) -> bool:
    """Whether an aware instant lies between EARLIEST and LATEST."""
    try:
        return EARLIEST <= value.astimezone(UTC) < LATEST
    except OverflowError:
        return False


def _bounded(value: datetime) -> datetime:
    if not within_range(value):
        raise ValueError(f"an instant from {EARLIEST.year} to {LATEST.year - 1}")
    return value


# Every instant read from a client: RFC 3339 with its offset (a naive time is refused,
# never guessed), within the range above.
Instant = Annotated[AwareDatetime, AfterValidator(_bounded)]


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
