"""WeChat's field types and the values they hold: what is cut, what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from app.notifications.wechat.rendering import (
    FieldType,
    ValueRefused,
    field_type,
    render,
    render_value,
)

TZ = "Asia/Shanghai"


@pytest.mark.parametrize(
    ("key", "typed"),
    [
        ("thing1", FieldType.thing),
        ("time12", FieldType.time),
        ("character_string3", FieldType.character_string),
        ("phone_number4", FieldType.phone_number),
        ("number5", FieldType.number),
        ("car_number2", FieldType.car_number),
        ("thing", None),
        ("thing0", None),
        ("Thing1", None),
        ("title1", None),
        ("thing1x", None),
    ],
)
def test_a_fields_key_names_its_type_and_number(key: str, typed: FieldType | None) -> None:
    assert field_type(key) == typed


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        (FieldType.thing, "社区环境整治", "社区环境整治"),
        (FieldType.thing, "一" * 20, "一" * 20),
        (FieldType.thing, "一" * 21, "一" * 19 + "…"),
        (FieldType.thing, "  两个\n空格  ", "两个 空格"),
        (FieldType.thing, True, "是"),
        (FieldType.time, "2026-12-08T06:30:00Z", "2026年12月8日 14:30"),
        (FieldType.time, "2026-01-02T09:05:00+08:00", "2026年1月2日 09:05"),
        (FieldType.date, "2026-12-05", "2026年12月5日"),
        (FieldType.date, "2026-12-07T17:00:00Z", "2026年12月8日"),
        (FieldType.number, 12, "12"),
        (FieldType.number, 2.5, "2.5"),
        (FieldType.number, 3.0, "3"),
        (FieldType.number, "0042", "0042"),
        (FieldType.amount, 150, "150"),
        (FieldType.amount, "12.50", "12.50"),
        (FieldType.character_string, "R-20261208-0001", "R-20261208-0001"),
        (FieldType.letter, "ABC", "ABC"),
        (FieldType.symbol, "#", "#"),
        (FieldType.name, "欧阳桂芳", "欧阳桂芳"),
        (FieldType.name, "Anna Li", "Anna Li"),
        (FieldType.phrase, "已通过", "已通过"),
        (FieldType.car_number, "苏E12345", "苏E12345"),
    ],
)
def test_a_value_is_shown_as_its_field_type_holds_it(
    kind: FieldType, value: Any, shown: str
) -> None:
    assert render_value(kind, value, timezone=TZ) == shown


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (FieldType.thing, ""),
        (FieldType.thing, None),
        (FieldType.thing, {"nested": 1}),
        (FieldType.time, "2026-12-08T06:30:00"),  # no time zone
        (FieldType.time, "tomorrow"),
        (FieldType.time, 1765175400),
        (FieldType.date, "2026-13-01"),
        (FieldType.number, -3),
        (FieldType.number, "1" * 33),
        (FieldType.number, float("nan")),
        (FieldType.amount, "12345678901"),
        (FieldType.amount, "1.234"),
        (FieldType.character_string, "7d2f0e1c-0000-4000-8000-000000000001"),  # 36 > 32
        (FieldType.character_string, "含中文"),
        (FieldType.letter, "AB1"),
        (FieldType.symbol, "######"),
        (FieldType.name, "一二三四五六七八九十一"),
        (FieldType.name, "Anna1"),
        (FieldType.phrase, "已经全部通过了"),
        (FieldType.phrase, "ok"),
        (FieldType.car_number, "12"),
        (FieldType.phone_number, "13812345678"),
    ],
)
def test_a_value_no_field_of_its_type_can_hold_is_refused_not_cut(
    kind: FieldType, value: Any
) -> None:
    with pytest.raises(ValueRefused):
        render_value(kind, value, timezone=TZ)


def test_a_message_renders_each_field_from_its_source_and_names_the_one_refused() -> None:
    fields = {"thing1": "activity_title", "time2": "starts_at"}
    data = {"activity_title": "义诊", "starts_at": "2026-12-08T01:00:00Z", "address": "某路1号"}

    assert render(fields, data, timezone=TZ) == {
        "thing1": {"value": "义诊"},
        "time2": {"value": "2026年12月8日 09:00"},
    }
    with pytest.raises(ValueRefused, match=r"^time2 \(starts_at\): is missing$"):
        render(fields, {"activity_title": "义诊"}, timezone=TZ)


def test_times_are_shown_in_the_regions_time_zone() -> None:
    at = "2026-12-08T01:00:00Z"
    assert render_value(FieldType.time, at, timezone="Asia/Urumqi") == "2026年12月8日 07:00"
