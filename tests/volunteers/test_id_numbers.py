"""ID number checks and the masking helpers other features reuse."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import clock
from app.volunteers.errors import IdNumberInvalid
from app.volunteers.models import IdType
from app.volunteers.service import mask_id_number, mask_name, mask_phone, validate_id_number


def iso7064_mod11_2(digits: str) -> str:
    """The check character, computed the recursive way ISO 7064 states it (not by weights)."""
    p = 0
    for d in digits:
        p = (p + int(d)) * 2 % 11
    check = (12 - p) % 11
    return "X" if check == 10 else str(check)


def resident_id(area: str, born: date, sequence: str) -> str:
    first17 = f"{area}{born:%Y%m%d}{sequence}"
    return first17 + iso7064_mod11_2(first17)


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002X",
        resident_id("320584", date(1990, 3, 7), "123"),
        resident_id("440305", date(2000, 2, 29), "007"),
        resident_id("810000", date(1985, 12, 1), "555"),
    ],
)
def test_a_resident_id_with_the_right_check_digit_is_accepted(number: str) -> None:
    assert validate_id_number(IdType.resident_id, number) == number


def test_a_lower_case_x_is_normalised() -> None:
    assert validate_id_number(IdType.resident_id, " 11010519491231002x ") == "11010519491231002X"


@given(
    area=st.integers(110000, 829999).map(str),
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    sequence=st.integers(0, 999).map(lambda n: f"{n:03d}"),
)
def test_exactly_one_check_character_fits_each_resident_id(
    area: str, born: date, sequence: str
) -> None:
    good = resident_id(area, born, sequence)
    assert validate_id_number(IdType.resident_id, good) == good
    for other in "0123456789X":
        if other != good[-1]:
            with pytest.raises(IdNumberInvalid):
                validate_id_number(IdType.resident_id, good[:17] + other)


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("110105194912310021", "check digit"),
        ("11010519491231002", "17 digits"),
        ("1101051949123100200", "19 digits"),
        ("11010519491231002Y", "Y is no check character"),
        ("A1010519491231002X", "letters"),
        ("010105194912310029", "no area starts with 0"),
        (resident_id("110105", date(1899, 12, 31), "002"), "born before 1900"),
        ("11010519490230" + "0021", "30 February"),
        ("11010519491331" + "0021", "month 13"),
    ],
)
def test_a_bad_resident_id_is_refused(number: str, why: str) -> None:
    with pytest.raises(IdNumberInvalid):
        validate_id_number(IdType.resident_id, number)


def test_a_resident_id_born_tomorrow_is_refused() -> None:
    tomorrow = clock.now().date() + timedelta(days=1)
    with pytest.raises(IdNumberInvalid):
        validate_id_number(IdType.resident_id, resident_id("110105", tomorrow, "001"))


@pytest.mark.parametrize(
    ("id_type", "number"),
    [
        (IdType.passport, "E12345678"),
        (IdType.passport, "K1234567"),
        (IdType.hk_macao_permit, "H12345678"),
        (IdType.hk_macao_permit, "M1234567801"),
        (IdType.taiwan_permit, "12345678"),
        (IdType.foreign_permanent, "USA110079123456"),
        (IdType.foreign_permanent, resident_id("911101", date(1980, 1, 1), "001")),
    ],
)
def test_other_documents_are_checked_by_format(id_type: IdType, number: str) -> None:
    assert validate_id_number(id_type, number.lower()) == number


@pytest.mark.parametrize(
    ("id_type", "number"),
    [
        (IdType.passport, "E12"),
        (IdType.passport, "E1234567-8"),
        (IdType.hk_macao_permit, "X12345678"),
        (IdType.hk_macao_permit, "H1234"),
        (IdType.taiwan_permit, "1234567"),
        (IdType.taiwan_permit, "T12345678"),
        (IdType.foreign_permanent, "US110079123456"),
        (IdType.foreign_permanent, "911101198001010011"[:17] + "Y"),
    ],
)
def test_documents_of_the_wrong_format_are_refused(id_type: IdType, number: str) -> None:
    with pytest.raises(IdNumberInvalid):
        validate_id_number(id_type, number)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("320102199003071234", "3201**********1234"),
        ("E12345678", "E1*****78"),
        ("H12345678", "H1*****78"),
        ("123", "***"),
        (None, None),
    ],
)
def test_id_numbers_are_masked_in_the_middle(value: str | None, masked: str | None) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("13812345678", "138****5678"), ("1381234", "*******"), (None, None)],
)
def test_phones_keep_their_prefix_and_last_four(value: str | None, masked: str | None) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("张三明", "张*明"), ("张三", "张*"), ("欧阳小明", "欧**明"), ("张", "*"), (None, None)],
)
def test_names_keep_their_first_and_last_character(value: str | None, masked: str | None) -> None:
    assert mask_name(value) == masked
