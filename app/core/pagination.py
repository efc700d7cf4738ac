"""Opaque cursors: `?limit=&cursor=` → `{"items": [...], "next_cursor": ...}`.

A cursor is the sort key of the last item returned, base64url-encoded JSON;
clients must treat it as opaque. Most lists are ordered by a time and an id: their
cursor is a `Keyset` (`keyset_cursor`, `decode_keyset`), and `after_keyset` and
`before_keyset` are the conditions of the next page; `keyset_window` orders and
bounds a statement by them, and `keyset_page` turns its rows into the page. A cursor
that does not decode to what its list wrote is `InvalidCursor` (400), never a server
error.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, NamedTuple, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, or_

from app.core import clock
from app.core.errors import InvalidCursor

# The largest key a cursor may name: a bigint column's.
MAX_CURSOR_INT = 2**63 - 1
# The largest number a cursor may name (distances, in km, are far smaller).
MAX_CURSOR_NUMBER = 1e9

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([str(v) if not isinstance(v, int | float | None) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, *, arity: int) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidCursor()
    return values


def parse_cursor_time(value: Any) -> datetime:
    """A cursor's instant: ISO 8601 with its offset."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError as exc:
        raise InvalidCursor() from exc
    if parsed is None or parsed.tzinfo is None or not clock.within_range(parsed):
        raise InvalidCursor()
    return parsed


def parse_cursor_id(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise InvalidCursor()
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidCursor() from exc


def parse_cursor_number(value: Any) -> float:
    """A cursor's number (a distance): JSON's, not a string or a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCursor()
    number = float(value)
    if not math.isfinite(number) or abs(number) > MAX_CURSOR_NUMBER:
        raise InvalidCursor()
    return number


def parse_cursor_int(value: Any) -> int:
    """A cursor's key (a row's serial id): a JSON integer a bigint column holds."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CURSOR_INT:
        raise InvalidCursor()
    return value


class Keyset(NamedTuple):
    """The (time, id) sort key of the last item of a page."""

    at: datetime
    id: uuid.UUID


def keyset_cursor(at: datetime, item_id: uuid.UUID) -> str:
    return encode_cursor(at.isoformat(), item_id)


def decode_keyset(cursor: str | None) -> Keyset | None:
    """The previous page's last (time, id), or None on the first page."""
    values = decode_cursor(cursor, arity=2)
    if values is None:
        return None
    return Keyset(parse_cursor_time(values[0]), parse_cursor_id(values[1]))


def after_keyset(time_column: Any, id_column: Any, last: Keyset) -> ColumnElement[bool]:
    """The items after `last` in (time, id) order."""
    return or_(time_column > last.at, and_(time_column == last.at, id_column > last.id))


def before_keyset(time_column: Any, id_column: Any, last: Keyset) -> ColumnElement[bool]:
    """The items after `last` in a list ordered newest first."""
    return or_(time_column < last.at, and_(time_column == last.at, id_column < last.id))


# Any select: of one entity, of several columns.
S = TypeVar("S", bound=Select[*tuple[Any, ...]])
R = TypeVar("R")


def keyset_window(
    stmt: S,
    page: PageParams,
    *,
    time_column: Any,
    id_column: Any,
    newest_first: bool = False,
) -> S:
    """`stmt` after the cursor's item in (time, id) order (or newest first), with one row
    more than a page: that row tells whether another page follows."""
    last = decode_keyset(page.cursor)
    if newest_first:
        if last is not None:
            stmt = stmt.where(before_keyset(time_column, id_column, last))
        ordered = stmt.order_by(time_column.desc(), id_column.desc())
    else:
        if last is not None:
            stmt = stmt.where(after_keyset(time_column, id_column, last))
        ordered = stmt.order_by(time_column, id_column)
    return ordered.limit(page.limit + 1)


def keyset_page(
    rows: Sequence[R],
    page: PageParams,
    *,
    key: Callable[[R], tuple[datetime, uuid.UUID]],
    out: Callable[[R], T],
) -> Page[T]:
    """The page of the rows `keyset_window` read, and the cursor of its last item."""
    shown = rows[: page.limit]
    next_cursor = keyset_cursor(*key(shown[-1])) if len(rows) > page.limit else None
    return Page(items=[out(row) for row in shown], next_cursor=next_cursor)


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]
