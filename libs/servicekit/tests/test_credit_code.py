"""Unified social credit codes (GB 32100-2015): the check character, the shape, the region part,
and what a valid code tells."""

import re

import pytest

from servicekit.credit_code import (
    ALPHABET,
    CREDIT_CODE_PATTERN,
    InvalidCreditCode,
    check_character,
    make_credit_code,
    parse_credit_code,
)
from servicekit.regions import RegionCode

KNOWN = {"330302", "330300", "350100"}


def known(region: RegionCode) -> bool:
    return str(region) in KNOWN


def with_check(first17: str) -> str:
    return first17 + check_character(first17)


# The standard's sample code (Fuzhou), and synthetic codes of Lucheng District.
SAMPLE = "91350100M000100Y43"
COMPANY = with_check("91330302MA2L7Y1K2")
COOPERATIVE = with_check("93330302MA2H4X5R0")


@pytest.mark.parametrize("code", [SAMPLE, COMPANY, COOPERATIVE])
def test_a_code_with_the_right_check_character_is_valid(code: str) -> None:
    assert parse_credit_code(code, region_known=known).code == code


def test_the_check_character_of_the_standards_sample() -> None:
    assert check_character(SAMPLE[:17]) == "3"


def test_a_check_value_of_31_is_written_0() -> None:
    # Find a body whose weighted sum is a multiple of 31 by varying its last character.
    bodies = (f"9133030200000000{c}" for c in ALPHABET)
    body = next(b for b in bodies if check_character(b) == "0")
    assert parse_credit_code(body + "0", region_known=known).code.endswith("0")


def test_a_valid_code_tells_its_authority_category_region_and_organisation_code() -> None:
    parsed = parse_credit_code(COMPANY, region_known=known)
    assert parsed.registration_authority == "9"
    assert parsed.category == "1"
    assert str(parsed.region) == "330302"
    assert parsed.organisation_code == "MA2L7Y1K2"


def _changed(code: str, position: int, character: str) -> str:
    return code[:position] + character + code[position + 1 :]


def _wrong_check(code: str) -> str:
    return code[:17] + next(c for c in ALPHABET if c != code[17])


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("", "wrong_length"),
        (COMPANY[:17], "wrong_length"),
        (COMPANY + "0", "wrong_length"),
        (COMPANY.lower(), "invalid_characters"),
        (_changed(COMPANY, 9, "I"), "invalid_characters"),
        (_changed(COMPANY, 9, "O"), "invalid_characters"),
        (_changed(COMPANY, 0, "S"), "invalid_characters"),
        (_changed(COMPANY, 3, "A"), "invalid_characters"),
        (_changed(COMPANY, 17, "Z"), "invalid_characters"),
        (with_check("91000000MA2L7Y1K2"), "unknown_region"),
        (with_check("91440300MA2L7Y1K2"), "unknown_region"),
        (_wrong_check(COMPANY), "check_character_mismatch"),
        # One character mistyped, or two neighbours swapped: the check character catches both.
        (_changed(COMPANY, 10, "3" if COMPANY[10] != "3" else "4"), "check_character_mismatch"),
        (COMPANY[:8] + COMPANY[9] + COMPANY[8] + COMPANY[10:], "check_character_mismatch"),
    ],
)
def test_an_invalid_code_is_refused_with_its_reason(code: str, reason: str) -> None:
    with pytest.raises(InvalidCreditCode) as refused:
        parse_credit_code(code, region_known=known)
    assert refused.value.reason == reason


def test_a_made_code_parses_back_into_its_parts() -> None:
    code = make_credit_code(
        registration_authority="9",
        category="1",
        region=RegionCode.parse("330302"),
        organisation_code="MA2L7Y1K2",
    )
    parsed = parse_credit_code(code, region_known=known)
    assert (parsed.registration_authority, parsed.category, str(parsed.region)) == (
        "9",
        "1",
        "330302",
    )
    assert parsed.organisation_code == "MA2L7Y1K2"


def test_making_a_code_refuses_parts_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="first 17"):
        make_credit_code(
            registration_authority="9",
            category="1",
            region=RegionCode.parse("330302"),
            organisation_code="MA2L7Y1KO",
        )


def test_the_documented_shape_accepts_a_valid_code() -> None:
    code = make_credit_code(
        registration_authority="9",
        category="1",
        region=RegionCode.parse("330302"),
        organisation_code="MA2L7Y1K2",
    )
    assert re.match(CREDIT_CODE_PATTERN, code)
    assert not re.match(CREDIT_CODE_PATTERN, code.lower())
