"""The five levels and each one's tags, read once from ``levels.toml``: 5 very satisfied …
1 very dissatisfied, the two lowest bad reviews."""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

TABLE = Path(__file__).with_name("levels.toml")

LOWEST = 1
HIGHEST = 5


@dataclass(frozen=True)
class Tag:
    code: str
    name: str


@dataclass(frozen=True)
class Level:
    level: int
    key: str
    name: str
    bad_review: bool
    tags: tuple[Tag, ...]

    @property
    def tag_codes(self) -> frozenset[str]:
        return frozenset(tag.code for tag in self.tags)


def load(path: Path = TABLE) -> Mapping[int, Level]:
    """The levels by number; a table that does not name each of 1 to 5 once is refused."""
    raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    levels = {
        entry["level"]: Level(
            level=entry["level"],
            key=entry["key"],
            name=entry["name"],
            bad_review=entry["bad_review"],
            tags=tuple(Tag(code=tag["code"], name=tag["name"]) for tag in entry["tags"]),
        )
        for entry in raw["levels"]
    }
    if sorted(levels) != list(range(LOWEST, HIGHEST + 1)) or len(raw["levels"]) != len(levels):
        raise ValueError(f"{path.name} names each level from {LOWEST} to {HIGHEST} once")
    for level in levels.values():
        if len(level.tag_codes) != len(level.tags):
            raise ValueError(f"{path.name}: level {level.level} lists a tag twice")
    return MappingProxyType(levels)


LEVELS = load()


def is_bad_review(level: int) -> bool:
    return LEVELS[level].bad_review
