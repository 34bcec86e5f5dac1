"""Citizen identity numbers (GB 11643-1999): 6-digit region, 8-digit birth date, 3-digit
sequence (odd for men, even for women) and an ISO 7064 MOD 11-2 check character, ``X`` for 10.

The region part is the county code where the number was issued; it stays for life, so callers
decide what "known" means (a retired code is still a known one) by passing ``region_known``.
"""

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import WithJsonSchema

from servicekit.regions import InvalidRegionCode, RegionCode, RegionLevel

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
#: Its shape, for documents; the region, the birth date and the check character are checked by
#: ``parse_resident_id``.
RESIDENT_ID_PATTERN = r"^\d{17}[\dX]$"
_SHAPE = re.compile(RESIDENT_ID_PATTERN)
#: An identity number as a string that the service parses itself, documented with its shape.
ResidentIdStr = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": RESIDENT_ID_PATTERN,
            "description": "A citizen identity number (GB 11643): 17 digits and a check "
            "character, X for 10",
            "examples": ["330302195203140248"],
        }
    ),
]

Reason = Literal[
    "wrong_length",
    "invalid_characters",
    "unknown_region",
    "invalid_birth_date",
    "birth_date_in_future",
    "check_character_mismatch",
]


class InvalidResidentId(ValueError):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


def check_character(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


@dataclass(frozen=True, slots=True)
class ResidentId:
    number: str
    issuing_region: RegionCode
    birth_date: dt.date
    sex: Literal["male", "female"]


def parse_resident_id(
    text: str, *, today: dt.date, region_known: Callable[[RegionCode], bool]
) -> ResidentId:
    """Validate an 18-character number; raise ``InvalidResidentId`` with the first reason found."""
    if len(text) != 18:
        raise InvalidResidentId("wrong_length", "an identity number has 18 characters")
    if not _SHAPE.match(text):
        raise InvalidResidentId("invalid_characters", "17 digits, then a digit or an upper-case X")
    try:
        region = RegionCode.parse(text[:6])
    except InvalidRegionCode as exc:
        raise InvalidResidentId("unknown_region", "the region part is not a region code") from exc
    if not region_known(region):
        raise InvalidResidentId("unknown_region", "the region part names no known region")
    try:
        birth = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError as exc:
        raise InvalidResidentId("invalid_birth_date", "the birth date is not a real date") from exc
    if birth > today:
        raise InvalidResidentId("birth_date_in_future", "the birth date is in the future")
    if birth.year < 1880:
        raise InvalidResidentId("invalid_birth_date", "the birth date is not plausible")
    if check_character(text[:17]) != text[17]:
        raise InvalidResidentId("check_character_mismatch", "the check character does not match")
    sex: Literal["male", "female"] = "male" if int(text[16]) % 2 else "female"
    return ResidentId(number=text, issuing_region=region, birth_date=birth, sex=sex)


def make_resident_id(region: RegionCode, birth_date: dt.date, sequence: int) -> str:
    """Build a valid number (for synthetic data): ``sequence`` is the 3-digit order code."""
    if region.level is not RegionLevel.COUNTY:
        region = region.at_level(RegionLevel.COUNTY)
    first17 = f"{region.official}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
