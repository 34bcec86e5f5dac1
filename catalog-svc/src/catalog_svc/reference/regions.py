"""The region tree as the reference files give it, current and retired.

Current regions: province, city and county from the Ministry of Civil Affairs table (its level-4
rows are ignored: it numbers townships differently), township and village from the statistics
bureau's files. Retired regions come from the yearly change records: every code that some region
held and that no current region holds today, with the name it last had and the current region
that took it over, where the records say so.

The change records are not a simple old-code → new-code map. In some years codes were handed
round between counties (码位改派: 1982, 洞头县 left 330321 for 330322 while 瓯海县 took 330321),
so following codes alone would send an old Dongtou number to Ouhai. The replay below therefore
follows *regions*, not codes: each region is an entity that holds a code for a while, moves, is
renamed, or ends (abolished, with or without a successor); a retired code then leads to wherever
the last region that held it ended up.
"""

import csv
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from servicekit.regions import RegionCode, RegionLevel

RegionStatus = Literal["current", "retired"]

LEVEL_NAMES: Mapping[RegionLevel, str] = {level: level.name.lower() for level in RegionLevel}

MCA_FILE = "zj_divisions_mca2025.csv"
TOWNSHIP_FILE = "zj_townships_nbs2023.csv"
VILLAGE_FILE = "zj_villages_nbs2023.csv"
CHANGE_FILES = ("zj_region_changes_1980_2020.csv", "zj_region_changes_2021_supplement.csv")
SOURCE_FILES = (MCA_FILE, TOWNSHIP_FILE, VILLAGE_FILE, *CHANGE_FILES)

PROVINCE_PREFIX = "33"
#: Change types after which the region goes on under the new code or name.
_CONTINUING = frozenset(
    {"同名改码", "更名", "撤县设市", "撤县设区", "撤市设区", "撤地设市", "区划调整"}
)
#: Change types after which the region ends, merged into the region holding the new code.
_MERGING = frozenset({"撤销", "撤区设区"})
_REASSIGNED = "码位改派"
_CREATED = "新设"


class RegionDataError(ValueError):
    """The reference files contradict each other; the seed refuses to load them."""


@dataclass(frozen=True, slots=True)
class RegionRecord:
    code: str
    prefix: str
    name: str
    level: str
    parent_code: str | None
    status: RegionStatus
    successor_code: str | None


@dataclass(frozen=True, slots=True)
class RegionChange:
    year: int
    type: str
    old_code: str | None
    old_name: str
    new_code: str | None
    new_name: str


def _read_csv(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _current(code: str, name: str, parent: str | None) -> RegionRecord:
    region = RegionCode.parse(code)
    if region.official != code:
        raise RegionDataError(f"{code} is not in the official form ({region.official})")
    level = region.level
    expected_parent = region.at_level(RegionLevel(level - 1)).official if level > 1 else None
    if parent != expected_parent:
        raise RegionDataError(f"{code}: parent {parent} contradicts its code")
    return RegionRecord(
        code=code,
        prefix=region.prefix,
        name=name,
        level=LEVEL_NAMES[level],
        parent_code=parent,
        status="current",
        successor_code=None,
    )


def load_current_regions(regions_dir: Path) -> list[RegionRecord]:
    """Province, cities and counties (MCA), then townships and villages (NBS), parents first."""
    records: list[RegionRecord] = []
    for row in _read_csv(regions_dir / MCA_FILE):
        if int(row["level"]) <= RegionLevel.COUNTY:
            records.append(_current(row["code"], row["name"], row["parent_code"] or None))
    for row in _read_csv(regions_dir / TOWNSHIP_FILE):
        records.append(_current(row["code"], row["name"], row["county_code"]))
    for row in _read_csv(regions_dir / VILLAGE_FILE):
        records.append(_current(row["code"], row["name"], row["township_code"]))
    known = {record.code for record in records}
    for record in records:
        if record.parent_code is not None and record.parent_code not in known:
            raise RegionDataError(f"{record.code} {record.name}: no parent {record.parent_code}")
    return records


def _official(code12: str) -> str | None:
    return RegionCode.parse(code12).official if code12 else None


def load_changes(regions_dir: Path) -> list[RegionChange]:
    """Every change record, in year order (stable: within a year, in the files' order)."""
    changes: list[RegionChange] = []
    for name in CHANGE_FILES:
        for row in _read_csv(regions_dir / name):
            changes.append(
                RegionChange(
                    year=int(row["year"]),
                    type=row["type"],
                    old_code=_official(row["old_code"]),
                    old_name=row["old_name"],
                    new_code=_official(row["new_code"]),
                    new_name=row["new_name"],
                )
            )
    changes.sort(key=lambda change: change.year)
    return changes


@dataclass(eq=False)
class _Entity:
    """One region through time: its name and code change; it may end, into a successor."""

    name: str
    code: str | None
    ended: bool = False
    successor: "_Entity | None" = None


@dataclass(frozen=True, slots=True)
class _Displaced:
    entity: _Entity
    left_code: str


@dataclass
class _Replay:
    holder: dict[str, _Entity] = field(default_factory=dict)
    #: code → (the name it was last released under, the entity that released it)
    released: dict[str, tuple[str, _Entity]] = field(default_factory=dict)

    def existing(self, code: str, name: str) -> _Entity | None:
        """The region holding ``code``; one the records meet for the first time (its history
        starts before 1980) is made up; None when the code was held and has been given up."""
        entity = self.holder.get(code)
        if entity is not None:
            return entity
        if code in self.released:
            return None
        entity = _Entity(name=name, code=code)
        self.holder[code] = entity
        return entity

    def release(self, code: str) -> None:
        entity = self.holder.pop(code, None)
        if entity is not None:
            self.released[code] = (entity.name, entity)
            entity.code = None

    def end(self, entity: _Entity, successor: _Entity | None) -> None:
        if entity.code is not None:
            self.release(entity.code)
        entity.ended = True
        entity.successor = successor if successor is not entity else None

    def place(self, entity: _Entity, code: str, name: str) -> None:
        """``entity`` takes ``code``; if another region already holds it, they merge into it."""
        occupant = self.holder.get(code)
        if occupant is not None and occupant is not entity:
            self.end(entity, occupant)
            return
        if entity.code is not None and entity.code != code:
            self.release(entity.code)
        entity.code = code
        entity.name = name
        self.holder[code] = entity

    def active_named(self, name: str) -> _Entity | None:
        matches = [entity for entity in self.holder.values() if entity.name == name]
        return matches[0] if len(matches) == 1 else None

    def reassign(self, changes: list[RegionChange]) -> dict[str, _Displaced]:
        """One year's 码位改派 rows at once: codes handed round between regions. Returns the
        regions left without a code, by name, for that year's 新设 rows to place."""
        displaced: dict[str, _Displaced] = {}
        for change in changes:
            if change.old_code is None or change.new_code is None:
                raise RegionDataError(f"a reassignment names two codes: {change}")
            entity = self.existing(change.old_code, change.old_name)
            if entity is not None:
                self.release(change.old_code)
                displaced[change.old_name] = _Displaced(entity, change.old_code)
        for change in changes:
            assert change.new_code is not None
            moved = displaced.pop(change.new_name, None)
            entity = moved.entity if moved else self.active_named(change.new_name)
            if entity is None:
                entity = _Entity(name=change.new_name, code=None)
            self.place(entity, change.new_code, change.new_name)
        return displaced

    def apply(self, change: RegionChange, displaced: dict[str, _Displaced]) -> None:
        if change.old_code is None:
            if change.new_code is None:
                raise RegionDataError(f"a change with neither code: {change}")
            occupant = self.holder.get(change.new_code)
            if occupant is not None and occupant.name == change.new_name:
                return  # already brought in by a merge row of the same year
            moved = displaced.pop(change.new_name, None)
            created = moved.entity if moved else _Entity(change.new_name, None)
            if occupant is not None:
                self.end(occupant, None)
            self.place(created, change.new_code, change.new_name)
            return
        entity = self.existing(change.old_code, change.old_name)
        if entity is None:
            return  # the region already moved away in a reassignment of the same year
        if change.new_code is None:
            self.end(entity, None)
        elif change.type in _MERGING:
            self.release(change.old_code)
            target = self.holder.get(change.new_code)
            if target is None:
                target = _Entity(change.new_name, None)
                self.place(target, change.new_code, change.new_name)
            self.end(entity, target)
        elif change.type in _CONTINUING:
            self.place(entity, change.new_code, change.new_name)
        else:
            raise RegionDataError(f"unknown change type {change.type!r}")

    def run(self, changes: Iterable[RegionChange]) -> None:
        for _year, group in itertools.groupby(changes, key=lambda change: change.year):
            year_changes = list(group)
            # Meet every region the year's records name before moving any, so that a region
            # handed a new code in a reassignment is found under the code it held until then.
            for change in year_changes:
                if change.old_code is not None:
                    self.existing(change.old_code, change.old_name)
            displaced = self.reassign([c for c in year_changes if c.type == _REASSIGNED])
            for change in year_changes:
                if change.type != _REASSIGNED:
                    self.apply(change, displaced)
            # Regions that lost their code and were given no other one this year went into the
            # region that took their code over (1983: 南城区 became 城区, now 鹿城区).
            for moved in displaced.values():
                self.end(moved.entity, self.holder.get(moved.left_code))


def _final_code(entity: _Entity, current: Mapping[str, RegionRecord]) -> str | None:
    seen: set[int] = set()
    step: _Entity | None = entity
    while step is not None and id(step) not in seen:
        seen.add(id(step))
        if not step.ended:
            return step.code if step.code in current else None
        step = step.successor
    return None


def retired_regions(
    changes: Iterable[RegionChange], current: Mapping[str, RegionRecord]
) -> list[RegionRecord]:
    """Codes the records show in use once and that no current region holds (within the
    province), each with the name it last had and its current successor, if known."""
    replay = _Replay()
    replay.run(changes)
    last_named: dict[str, tuple[str, _Entity]] = dict(replay.released)
    # A code the records leave in use but that the current table no longer lists is retired
    # too, with no successor known.
    for code, entity in replay.holder.items():
        last_named[code] = (entity.name, entity)
    retired: dict[str, tuple[str, str | None]] = {}
    for code, (name, entity) in last_named.items():
        if code in current or not code.startswith(PROVINCE_PREFIX):
            continue  # a retired code never shadows a current one
        retired[code] = (name, _final_code(entity, current))
    records: list[RegionRecord] = []
    known = set(current) | set(retired)
    for code in sorted(retired, key=lambda c: (len(RegionCode.parse(c).prefix), c)):
        name, successor = retired[code]
        region = RegionCode.parse(code)
        parent = next((a.official for a in reversed(region.ancestors) if a.official in known), None)
        records.append(
            RegionRecord(
                code=code,
                prefix=region.prefix,
                name=name,
                level=LEVEL_NAMES[region.level],
                parent_code=parent,
                status="retired",
                successor_code=successor,
            )
        )
    return records


def load_region_tree(regions_dir: Path) -> list[RegionRecord]:
    """Every region, current then retired, each after its parent (so rows insert in order)."""
    current = load_current_regions(regions_dir)
    by_code = {record.code: record for record in current}
    return current + retired_regions(load_changes(regions_dir), by_code)
