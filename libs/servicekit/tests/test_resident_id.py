import datetime as dt
import re

import pytest

from servicekit.regions import RegionCode
from servicekit.resident_id import (
    RESIDENT_ID_PATTERN,
    InvalidResidentId,
    check_character,
    make_resident_id,
    parse_resident_id,
)

TODAY = dt.date(2026, 11, 26)
KNOWN = {"330302", "330103"}  # 330103 Xiacheng was abolished in 2021: still a known region


def known(region: RegionCode) -> bool:
    return region.official in KNOWN


def parse(text: str) -> object:
    return parse_resident_id(text, today=TODAY, region_known=known)


def with_check(first17: str) -> str:
    return first17 + check_character(first17)


def test_a_valid_number_gives_region_birth_date_and_sex() -> None:
    number = with_check("33030219520314024")
    resident = parse_resident_id(number, today=TODAY, region_known=known)
    assert resident.issuing_region == RegionCode.parse("330302")
    assert resident.birth_date == dt.date(1952, 3, 14)
    assert resident.sex == "female"


def test_the_check_character_ten_is_an_upper_case_x() -> None:
    first17 = next(
        f"3303021980010100{n}" for n in range(10) if check_character(f"3303021980010100{n}") == "X"
    )
    assert parse_resident_id(first17 + "X", today=TODAY, region_known=known).sex in {
        "male",
        "female",
    }
    with pytest.raises(InvalidResidentId) as lower:
        parse(first17 + "x")
    assert lower.value.reason == "invalid_characters"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("330302195203140240", "check_character_mismatch"),  # the right one is 8
        (with_check("33030219520230024"), "invalid_birth_date"),  # 30 February
        (with_check("33030220270101024"), "birth_date_in_future"),
        (with_check("99999919520314024"), "unknown_region"),
        (with_check("33039919520314024"), "unknown_region"),
        ("33030219520314024", "wrong_length"),
        ("3303021952031402481", "wrong_length"),
        ("33030219520314 248", "invalid_characters"),
        ("33030219520314O248", "invalid_characters"),
    ],
)
def test_each_bad_number_is_refused_with_its_reason(number: str, reason: str) -> None:
    with pytest.raises(InvalidResidentId) as refused:
        parse(number)
    assert refused.value.reason == reason


def test_a_number_issued_under_a_retired_county_code_stays_valid() -> None:
    number = with_check("33010319600101001")
    assert parse_resident_id(number, today=TODAY, region_known=known).sex == "male"


def test_made_numbers_always_validate() -> None:
    for sequence in range(0, 1000, 37):
        number = make_resident_id(RegionCode.parse("330302026003"), dt.date(1990, 2, 28), sequence)
        resident = parse_resident_id(number, today=TODAY, region_known=known)
        assert resident.issuing_region.official == "330302"
        assert resident.sex == ("male" if sequence % 2 else "female")


def test_the_documented_shape_accepts_every_valid_number() -> None:
    shape = re.compile(RESIDENT_ID_PATTERN)
    for sequence in range(0, 1000, 37):
        number = make_resident_id(RegionCode.parse("330302"), dt.date(1952, 3, 14), sequence)
        assert shape.match(number), number
    assert shape.match("330302195203140248")
