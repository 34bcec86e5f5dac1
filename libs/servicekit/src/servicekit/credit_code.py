"""Unified social credit codes of legal persons and other organisations (GB 32100-2015): one
character for the registration authority, one for the organisation's category under it, the
6-digit region code of the registering authority, the 9-character organisation code (GB 11714)
and a check character.

The 31 characters are the digits and the upper-case letters without I, O, S, V and Z. Character
``i`` (from 0) weighs ``3**i mod 31``; the check character's value is ``31 - sum mod 31``, with
31 written as ``0``. Like an ID number's, the region part never changes with the map, so callers
decide what "known" means (a retired code is still a known one) by passing ``region_known``.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import WithJsonSchema

from servicekit.regions import InvalidRegionCode, RegionCode

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {character: value for value, character in enumerate(ALPHABET)}
_WEIGHTS = tuple(pow(3, position, 31) for position in range(17))
#: Its shape, for documents; the region and the check character are checked by
#: ``parse_credit_code``.
CREDIT_CODE_PATTERN = rf"^[{ALPHABET}]{{2}}\d{{6}}[{ALPHABET}]{{10}}$"
_SHAPE = re.compile(CREDIT_CODE_PATTERN)
#: A credit code as a string that the service parses itself, documented with its shape.
CreditCodeStr = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": CREDIT_CODE_PATTERN,
            "description": "A unified social credit code (GB 32100): 18 characters",
            "examples": ["91330302MA2L7Y1K22"],
        }
    ),
]

Reason = Literal["wrong_length", "invalid_characters", "unknown_region", "check_character_mismatch"]


class InvalidCreditCode(ValueError):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


def check_character(first17: str) -> str:
    """The check character of the first 17 characters (each one of ``ALPHABET``)."""
    total = sum(_VALUE[c] * weight for c, weight in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


@dataclass(frozen=True, slots=True)
class CreditCode:
    code: str
    #: ``9`` market regulation (enterprises), ``5`` civil affairs, ``1`` public-sector bodies...
    registration_authority: str
    #: The organisation's category within its authority (for ``9``: ``1`` company, ``2``
    #: sole proprietorship, ``3`` farmers' cooperative).
    category: str
    region: RegionCode
    #: The organisation code (GB 11714) the credit code embeds.
    organisation_code: str


def parse_credit_code(text: str, *, region_known: Callable[[RegionCode], bool]) -> CreditCode:
    """Validate an 18-character code; raise ``InvalidCreditCode`` with the first reason found.
    Lower-case letters are refused rather than folded: the code is printed upper-case on the
    business licence, and a lower-case one was typed by hand and deserves a second look."""
    if len(text) != 18:
        raise InvalidCreditCode("wrong_length", "a unified social credit code has 18 characters")
    if not _SHAPE.match(text):
        raise InvalidCreditCode(
            "invalid_characters",
            "two code characters, a 6-digit region code, then ten characters of digits and "
            "upper-case letters other than I, O, S, V and Z",
        )
    try:
        region = RegionCode.parse(text[2:8])
    except InvalidRegionCode as exc:
        raise InvalidCreditCode("unknown_region", "the region part is not a region code") from exc
    if not region_known(region):
        raise InvalidCreditCode("unknown_region", "the region part names no known region")
    if check_character(text[:17]) != text[17]:
        raise InvalidCreditCode("check_character_mismatch", "the check character does not match")
    return CreditCode(
        code=text,
        registration_authority=text[0],
        category=text[1],
        region=region,
        organisation_code=text[8:17],
    )


def make_credit_code(
    *, registration_authority: str, category: str, region: RegionCode, organisation_code: str
) -> str:
    """Build a valid code (for synthetic data) from its parts; ``organisation_code`` has the 9
    characters of ``ALPHABET`` the standard gives it."""
    first17 = f"{registration_authority}{category}{region.official[:6]}{organisation_code}"
    if not _SHAPE.match(first17 + "0"):
        raise ValueError(f"{first17!r} is not the first 17 characters of a credit code")
    return first17 + check_character(first17)
