"""``RegionCode``: the official hierarchical region codes as a value type.

A code is five segments of 2, 2, 2, 3 and 3 digits (GB/T 2260 for province, city and county; the
statistics codes for township and village): 33 Zhejiang → 3303 Wenzhou → 330302 Lucheng
District → 330302026 Songtai sub-district → 330302026003 Qingnianfang community.

People write the same region in several forms: the significant prefix (``3303``), the 6-digit
padded form of GB/T 2260 (``330300``) and the 12-digit statistics form (``330300000000``). All
parse to the same value. A zero segment followed by a non-zero one is malformed, as is anything
that is not 2, 4, 6, 9 or 12 ASCII digits.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, WithJsonSchema
from pydantic_core import core_schema

_SEGMENTS = (2, 2, 2, 3, 3)
_ENDS = (2, 4, 6, 9, 12)


def _code_pattern() -> str:
    """The regular expression of exactly what ``RegionCode.parse`` accepts (bar surrounding
    blanks): 2, 4, 6, 9 or 12 digits, a province other than 00, and no zero segment before a
    non-zero one; trailing zero segments (the padded forms) are allowed."""

    def nonzero(width: int) -> str:
        # ``width`` digits, not all zeros: 2 → (?:[1-9]\d|0[1-9]).
        forms = ("0" * zeros + "[1-9]" + "\\d" * (width - zeros - 1) for zeros in range(width))
        return "(?:" + "|".join(forms) + ")"

    def below(position: int, end: int) -> str:
        """Segments from ``position`` up to ``end`` digits: non-zero ones, then zeros only."""
        widths = _SEGMENTS[position : _ENDS.index(end) + 1]
        if not widths:
            return ""
        return f"(?:{nonzero(widths[0])}{below(position + 1, end)}|{'0' * sum(widths)})"

    return "^(?:" + "|".join(nonzero(2) + below(1, end) for end in _ENDS) + ")$"


#: What a region code looks like, for documents: ``RegionCode.parse`` accepts exactly these.
REGION_CODE_PATTERN = _code_pattern()
#: A region code as a string that the service parses itself (its own problem when it does not
#: parse), documented with ``REGION_CODE_PATTERN``.
RegionCodeStr = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": REGION_CODE_PATTERN,
            "description": "A region code: 2, 4, 6, 9 or 12 digits (GB/T 2260 and the "
            "statistics codes), e.g. 33 Zhejiang, 3303 or 330300 Wenzhou, 330302 Lucheng",
            "examples": ["330302"],
        }
    ),
]


class RegionLevel(enum.IntEnum):
    PROVINCE = 1
    CITY = 2
    COUNTY = 3
    TOWNSHIP = 4
    VILLAGE = 5


class InvalidRegionCode(ValueError):
    pass


@dataclass(frozen=True, slots=True, order=True)
class RegionCode:
    """A region, held as its significant prefix (2, 4, 6, 9 or 12 digits)."""

    prefix: str

    def __post_init__(self) -> None:
        if len(self.prefix) not in _ENDS or not (self.prefix.isascii() and self.prefix.isdigit()):
            raise InvalidRegionCode(f"not a significant region prefix: {self.prefix!r}")

    @classmethod
    def parse(cls, text: str) -> RegionCode:
        code = text.strip()
        if not (code.isascii() and code.isdigit()) or len(code) not in _ENDS:
            raise InvalidRegionCode(f"a region code is 2, 4, 6, 9 or 12 digits, not {text!r}")
        segments: list[str] = []
        start = 0
        for width in _SEGMENTS:
            if start >= len(code):
                break
            segments.append(code[start : start + width])
            start += width
        if int(segments[0]) == 0:
            raise InvalidRegionCode(f"no province has code 00: {text!r}")
        significant = len(segments)
        while significant > 1 and int(segments[significant - 1]) == 0:
            significant -= 1
        if any(int(segment) == 0 for segment in segments[:significant]):
            raise InvalidRegionCode(f"a zero segment inside the code: {text!r}")
        return cls("".join(segments[:significant]))

    @property
    def level(self) -> RegionLevel:
        return RegionLevel(_ENDS.index(len(self.prefix)) + 1)

    @property
    def parent(self) -> RegionCode | None:
        if self.level is RegionLevel.PROVINCE:
            return None
        return RegionCode(self.prefix[: _ENDS[self.level - 2]])

    @property
    def ancestors(self) -> tuple[RegionCode, ...]:
        """From the province down to the parent; empty for a province."""
        return tuple(RegionCode(self.prefix[:end]) for end in _ENDS[: self.level - 1])

    @property
    def lineage(self) -> tuple[RegionCode, ...]:
        """The ancestors and the region itself, from the province down."""
        return (*self.ancestors, self)

    def at_level(self, level: RegionLevel) -> RegionCode:
        """The region of this one at a higher (or the same) level."""
        if level > self.level:
            raise InvalidRegionCode(f"{self} has no {level.name.lower()} below it by its code")
        return RegionCode(self.prefix[: _ENDS[level - 1]])

    def contains(self, other: RegionCode) -> bool:
        return other.prefix.startswith(self.prefix)

    @classmethod
    def smallest_containing(cls, codes: Iterable[RegionCode]) -> RegionCode | None:
        """The smallest region that contains every one of ``codes`` (one of them, or the
        nearest ancestor they share): Lucheng and Ouhai → Wenzhou; Lucheng and Songtai →
        Lucheng. None when there is none, or when they lie in different provinces."""
        remaining = iter(codes)
        smallest = next(remaining, None)
        for code in remaining:
            while smallest is not None and not smallest.contains(code):
                smallest = smallest.parent
        return smallest

    @property
    def official(self) -> str:
        """The form official tables print: 6 digits to the county, then 9 or 12."""
        return self.prefix.ljust(6, "0") if len(self.prefix) <= 6 else self.prefix

    @property
    def padded12(self) -> str:
        return self.prefix.ljust(12, "0")

    def __str__(self) -> str:
        return self.official

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> RegionCode:
            if isinstance(value, RegionCode):
                return value
            if not isinstance(value, str):
                raise ValueError("a region code is a string of digits")
            return cls.parse(value)

        return core_schema.no_info_plain_validator_function(
            validate,
            json_schema_input_schema=core_schema.str_schema(pattern=REGION_CODE_PATTERN),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )
