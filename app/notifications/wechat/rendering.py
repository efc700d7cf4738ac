"""WeChat's rules for a subscribe message's fields, and a notification's data rendered
by them.

A template field's key names its type (`thing1`, `time2`, …) and the type bounds its
value: WeChat refuses a message with one value out of bounds (47003), so every value
is checked here before anything is sent. A `thing` too long is cut with an ellipsis,
a title read at a glance; any other value that does not fit is refused, since cutting
a name, a number or a code would tell the person something false.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class FieldType(StrEnum):
    thing = "thing"
    number = "number"
    letter = "letter"
    symbol = "symbol"
    character_string = "character_string"
    time = "time"
    date = "date"
    amount = "amount"
    phone_number = "phone_number"
    car_number = "car_number"
    name = "name"
    phrase = "phrase"


# Types a region may not feed: a person's phone is nothing a notification carries.
PERSONAL = frozenset({FieldType.phone_number})

_KEY = re.compile(
    r"(?P<type>" + "|".join(sorted(FieldType, key=len, reverse=True)) + r")(?P<n>[1-9][0-9]{0,2})"
)
THING_LENGTH = 20
NAME_CHINESE_LENGTH = 10
NAME_LATIN_LENGTH = 20
PHRASE_LENGTH = 5
STRING_LENGTH = 32
SYMBOL_LENGTH = 5
CAR_LENGTH = 8

_CHINESE = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
_LETTERS = re.compile(r"[A-Za-z]{1,32}")
_SYMBOLS = re.compile(r"[!-/:-@\[-`{-~]{1,5}")
_STRING = re.compile(r"[!-~]{1,32}")
_AMOUNT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")
_NAME_CHINESE = re.compile(f"[{_CHINESE}·]{{1,{NAME_CHINESE_LENGTH}}}")
_NAME_LATIN = re.compile(rf"[A-Za-z][A-Za-z .'-]{{0,{NAME_LATIN_LENGTH - 1}}}")
_PHRASE = re.compile(f"[{_CHINESE}]{{1,{PHRASE_LENGTH}}}")
_CAR = re.compile(f"[{_CHINESE}A-Z][A-Z0-9]{{4,6}}[{_CHINESE}A-Z0-9]")
_SPACE = re.compile(r"\s+")


class ValueRefused(ValueError):
    """A value no WeChat field of its type can hold; `str()` says which and why."""


def field_type(key: str) -> FieldType | None:
    """The type a template field's key names (`thing1` → thing), or None."""
    match = _KEY.fullmatch(key)
    return FieldType(match["type"]) if match else None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueRefused("is not a finite number")
        # 2.5 hours as "2.5", 3.0 as "3": never an exponent, which no number field holds.
        return format(value, "f").rstrip("0").rstrip(".")
    if isinstance(value, int | str):
        return _SPACE.sub(" ", str(value)).strip()
    raise ValueRefused(f"is a {type(value).__name__}, not a text or a number")


def _instant(value: Any, timezone: str) -> datetime:
    if not isinstance(value, str):
        raise ValueRefused("is not an ISO 8601 date-time")
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueRefused("is not an ISO 8601 date-time") from exc
    if at.tzinfo is None:
        raise ValueRefused("is a date-time without a time zone")
    return at.astimezone(ZoneInfo(timezone))


def _day(value: Any, timezone: str) -> date:
    if isinstance(value, str) and len(value) == len("2026-01-01"):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueRefused("is not an ISO 8601 date") from exc
    return _instant(value, timezone).date()


def _chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _checked(pattern: re.Pattern[str], text: str, rule: str) -> str:
    if not pattern.fullmatch(text):
        raise ValueRefused(f"{text!r} is not {rule}")
    return text


def render_value(kind: FieldType, value: Any, *, timezone: str) -> str:
    """`value` as a field of type `kind` holds it, or `ValueRefused`."""
    if value is None:
        raise ValueRefused("is missing")
    match kind:
        case FieldType.thing:
            text = _text(value)
            if not text:
                raise ValueRefused("is empty")
            return text if len(text) <= THING_LENGTH else text[: THING_LENGTH - 1] + "…"
        case FieldType.time:
            at = _instant(value, timezone)
            return f"{_chinese_date(at.date())} {at:%H:%M}"
        case FieldType.date:
            return _chinese_date(_day(value, timezone))
        case FieldType.number:
            text = _text(value)
            if len(text) > STRING_LENGTH:
                raise ValueRefused(f"has more than {STRING_LENGTH} characters")
            return _checked(_NUMBER, text, "a number of digits")
        case FieldType.amount:
            return _checked(_AMOUNT, _text(value), "an amount of at most 10 digits")
        case FieldType.letter:
            return _checked(_LETTERS, _text(value), f"at most {STRING_LENGTH} letters")
        case FieldType.symbol:
            return _checked(_SYMBOLS, _text(value), f"at most {SYMBOL_LENGTH} symbols")
        case FieldType.character_string:
            rule = f"at most {STRING_LENGTH} digits, letters and symbols"
            return _checked(_STRING, _text(value), rule)
        case FieldType.name:
            text = _text(value)
            if _NAME_CHINESE.fullmatch(text) or _NAME_LATIN.fullmatch(text):
                return text
            raise ValueRefused(
                f"{text!r} is not a name of at most {NAME_CHINESE_LENGTH} Chinese characters "
                f"or {NAME_LATIN_LENGTH} letters"
            )
        case FieldType.phrase:
            return _checked(_PHRASE, _text(value), f"at most {PHRASE_LENGTH} Chinese characters")
        case FieldType.car_number:
            return _checked(_CAR, _text(value), "a car number")
        case FieldType.phone_number:
            raise ValueRefused("is a phone number, which no notification carries")


def render(
    fields: dict[str, str], data: dict[str, Any], *, timezone: str
) -> dict[str, dict[str, str]]:
    """The message's `data` ({"thing1": {"value": …}, …}) from a notification's data,
    by the template's `fields` (its key → the name in `data`), or `ValueRefused`."""
    rendered: dict[str, dict[str, str]] = {}
    for key, source in fields.items():
        kind = field_type(key)
        if kind is None:
            raise ValueRefused(f"{key}: is no WeChat field type")
        try:
            rendered[key] = {"value": render_value(kind, data.get(source), timezone=timezone)}
        except ValueRefused as refused:
            raise ValueRefused(f"{key} ({source}): {refused}") from None
    return rendered
