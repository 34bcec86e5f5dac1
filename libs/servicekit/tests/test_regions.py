import itertools
import random
import re

import pytest
from pydantic import BaseModel

from servicekit.regions import (
    REGION_CODE_PATTERN,
    InvalidRegionCode,
    RegionCode,
    RegionCodeStr,
    RegionLevel,
)


@pytest.mark.parametrize(
    ("text", "prefix", "level", "official"),
    [
        ("33", "33", RegionLevel.PROVINCE, "330000"),
        ("330000", "33", RegionLevel.PROVINCE, "330000"),
        ("3303", "3303", RegionLevel.CITY, "330300"),
        ("330300", "3303", RegionLevel.CITY, "330300"),
        ("330300000000", "3303", RegionLevel.CITY, "330300"),
        ("330302", "330302", RegionLevel.COUNTY, "330302"),
        ("330302000", "330302", RegionLevel.COUNTY, "330302"),
        ("330302026", "330302026", RegionLevel.TOWNSHIP, "330302026"),
        ("330302026000", "330302026", RegionLevel.TOWNSHIP, "330302026"),
        ("330302026003", "330302026003", RegionLevel.VILLAGE, "330302026003"),
    ],
)
def test_every_written_form_parses_to_the_same_region(
    text: str, prefix: str, level: RegionLevel, official: str
) -> None:
    code = RegionCode.parse(text)
    assert code.prefix == prefix
    assert code.level is level
    assert code.official == official
    assert str(code) == official


@pytest.mark.parametrize(
    "text",
    [
        "",
        "3",
        "33030",
        "3303020",
        "33030202600",
        "3303020260031",
        "000000",
        "330002",  # a county under city 00
        "330302000003",  # a village under township 000
        "33a302",
        "３３０３０２",  # full-width digits
        "-33030",
    ],
)
def test_malformed_codes_are_refused(text: str) -> None:
    with pytest.raises(InvalidRegionCode):
        RegionCode.parse(text)


def test_a_community_knows_its_parent_and_ancestors() -> None:
    community = RegionCode.parse("330302026003")
    assert community.parent == RegionCode.parse("330302026")
    assert [str(code) for code in community.ancestors] == [
        "330000",
        "330300",
        "330302",
        "330302026",
    ]
    assert community.lineage[-1] == community
    assert RegionCode.parse("33").parent is None
    assert RegionCode.parse("33").ancestors == ()


def test_containment_and_levels_above() -> None:
    wenzhou = RegionCode.parse("330300")
    songtai = RegionCode.parse("330302026")
    assert wenzhou.contains(songtai)
    assert not songtai.contains(wenzhou)
    assert not RegionCode.parse("3301").contains(songtai)
    assert songtai.at_level(RegionLevel.COUNTY) == RegionCode.parse("330302")
    with pytest.raises(InvalidRegionCode):
        wenzhou.at_level(RegionLevel.VILLAGE)
    assert RegionCode.parse("330302026003").padded12 == "330302026003"
    assert wenzhou.padded12 == "330300000000"


@pytest.mark.parametrize(
    ("codes", "smallest"),
    [
        (["330302", "330304"], "330300"),  # Lucheng and Ouhai: Wenzhou
        (["330302", "330302026003"], "330302"),  # Lucheng and a community of its own
        (["330302026003"], "330302026003"),
        (["330106", "330302"], "330000"),  # Hangzhou's Xihu and Wenzhou's Lucheng
        (["330302026", "330302027"], "330302"),
        (["330100", "110000"], None),  # two provinces
        ([], None),
    ],
)
def test_the_smallest_region_containing_several(codes: list[str], smallest: str | None) -> None:
    found = RegionCode.smallest_containing(RegionCode.parse(code) for code in codes)
    assert (str(found) if found is not None else None) == smallest


def _digit_strings() -> list[str]:
    """Every string of 1 to 13 digits drawn from 0, 1 and 9 up to 6 digits, and a spread of
    longer ones: zero segments in every position, short and padded forms."""
    short = ["".join(p) for n in range(1, 7) for p in itertools.product("019", repeat=n)]
    draw = random.Random(2260)
    long = [
        "".join(draw.choice("0000019") for _ in range(n)) for n in range(7, 14) for _ in range(3000)
    ]
    return short + long


def test_the_documented_pattern_accepts_exactly_what_the_parser_does() -> None:
    pattern = re.compile(REGION_CODE_PATTERN)
    disagreements = []
    for text in _digit_strings():
        try:
            RegionCode.parse(text)
            parses = True
        except InvalidRegionCode:
            parses = False
        if parses != bool(pattern.match(text)):
            disagreements.append(text)
    assert disagreements == []


def test_the_region_code_types_document_the_pattern() -> None:
    class Body(BaseModel):
        written: RegionCodeStr
        parsed: RegionCode

    properties = Body.model_json_schema()["properties"]
    assert properties["written"]["pattern"] == REGION_CODE_PATTERN
    assert properties["parsed"]["pattern"] == REGION_CODE_PATTERN
    # Documented, not enforced: the service parses it and answers with its own problem.
    assert Body.model_validate({"written": "33x", "parsed": "330302"}).written == "33x"
