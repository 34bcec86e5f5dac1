"""The rules of region lookups: any written form, retired codes leading to their successors.
Lookups read the in-memory snapshot; only the paged children list queries the database."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.models import Region
from catalog_svc.regions import repository
from catalog_svc.snapshot import CatalogSnapshot, RegionRecord
from servicekit.pagination import Cursors
from servicekit.problems import InvalidRegion, NotFound, extension_members
from servicekit.regions import REGION_CODE_PATTERN, InvalidRegionCode, RegionCode

#: Successor chains are resolved when the data is loaded; this only guards against a cycle.
_MAX_SUCCESSION_STEPS = 8


class RegionNotFound(NotFound):
    code = "region_not_found"
    title = "No such region"
    members = extension_members(
        region_code={"type": "string", "pattern": REGION_CODE_PATTERN, "examples": ["330302"]}
    )


@dataclass(frozen=True, slots=True)
class RegionView:
    region: RegionRecord
    ancestors: list[RegionRecord]


@dataclass(frozen=True, slots=True)
class ChildrenPage:
    children: list[Region]
    next_cursor: str | None


def parse_region_code(text: str) -> RegionCode:
    try:
        return RegionCode.parse(text)
    except InvalidRegionCode as exc:
        raise InvalidRegion(
            "a region code is 2, 4, 6, 9 or 12 digits, e.g. 330302 or 330302026003"
        ) from exc


def region_by_code(snapshot: CatalogSnapshot, text: str) -> RegionRecord:
    code = parse_region_code(text)
    region = snapshot.regions.get(code.official)
    if region is None:
        raise RegionNotFound(f"no region has code {code.official}", region_code=code.official)
    return region


def region_view(snapshot: CatalogSnapshot, text: str) -> RegionView:
    """The region and its ancestors (those the tree holds), province first."""
    region = region_by_code(snapshot, text)
    codes = [ancestor.official for ancestor in RegionCode.parse(region.code).ancestors]
    ancestors = [snapshot.regions[c] for c in codes if c in snapshot.regions]
    return RegionView(region=region, ancestors=ancestors)


def current_region(snapshot: CatalogSnapshot, region: RegionRecord) -> RegionRecord | None:
    """The region itself if current, else the current region that took it over (None when the
    records know of no successor)."""
    step: RegionRecord | None = region
    for _ in range(_MAX_SUCCESSION_STEPS):
        if step is None or step.status == "current":
            return step
        step = snapshot.regions.get(step.successor_code) if step.successor_code else None
    return None


async def children(
    session: AsyncSession,
    snapshot: CatalogSnapshot,
    text: str,
    *,
    limit: int,
    cursors: Cursors,
    cursor: str | None,
) -> ChildrenPage:
    region = region_by_code(snapshot, text)
    context = f"regions:{region.code}:children"
    position = cursors.decode_optional(context, cursor)
    after: str | None = position["after"] if position is not None else None
    page = await repository.current_children(session, region.code, after=after, limit=limit + 1)
    more = len(page) > limit
    page = page[:limit]
    next_cursor = cursors.encode(context, {"after": page[-1].code}) if more else None
    return ChildrenPage(children=page, next_cursor=next_cursor)
