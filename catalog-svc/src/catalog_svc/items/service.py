"""The rules of service items: who handles an item for an applicant's region, and which items a
search returns for a region."""

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.items import repository
from catalog_svc.models import ServiceItem
from catalog_svc.reference.departments import department_id
from catalog_svc.reference.items import ITEM_CODE_MAX_LENGTH
from catalog_svc.regions import service as regions
from catalog_svc.search.index import IndexedItem, SearchHit
from catalog_svc.snapshot import CatalogSnapshot, DepartmentRecord, RegionRecord, serving_kinds
from servicekit.pagination import Cursors
from servicekit.problems import DomainError, NotFound, extension_members
from servicekit.regions import REGION_CODE_PATTERN, RegionCode, RegionLevel

TIER_LEVELS = {
    "province": RegionLevel.PROVINCE,
    "city": RegionLevel.CITY,
    "county": RegionLevel.COUNTY,
    "township": RegionLevel.TOWNSHIP,
}


class ItemNotFound(NotFound):
    code = "item_not_found"
    title = "No such service item"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]}
    )


class NoResponsibleDepartment(NotFound):
    code = "no_responsible_department"
    title = "No department handles this item for this region"
    members = extension_members(
        region_code={"type": "string", "pattern": REGION_CODE_PATTERN, "examples": ["330302"]},
        reason={
            "type": "string",
            "description": "Why no department answers",
            "enum": ["retired_without_successor", "region_above_handling_tier", "no_department"],
            "examples": ["no_department"],
        },
        department_type={"type": "string", "examples": ["public_security"]},
        handling_tier={"type": "string", "examples": ["county"]},
    )


class ItemNotOfferedInRegion(DomainError):
    status = 422
    code = "item_not_offered_in_region"
    title = "This item is not offered in this region"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]},
        region_code={"type": "string", "pattern": REGION_CODE_PATTERN, "examples": ["330302"]},
        offered_in={
            "type": "array",
            "items": {"type": "string"},
            "description": "The regions the item is offered in",
            "examples": [["3301"]],
        },
    )


@dataclass(frozen=True, slots=True)
class Responsibility:
    item_code: str
    region: RegionRecord
    resolved_region: RegionRecord
    department: DepartmentRecord


@dataclass(frozen=True, slots=True)
class SearchFilters:
    q: str = ""
    region: str | None = None
    subject: str | None = None
    department_type: str | None = None
    tier: str | None = None

    def digest(self) -> str:
        """Ties a cursor to the query it paginates."""
        canonical = json.dumps(
            [self.q, self.region, self.subject, self.department_type, self.tier],
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


#: What search results are counted by, and how to read each from an item.
FACETS: dict[str, Callable[[IndexedItem], Iterable[str]]] = {
    "department_type": lambda item: (item.department_type,),
    "handling_tier": lambda item: (item.handling_tier,),
    "subject": lambda item: (item.subject,),
    "topic": lambda item: item.topics,
}


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[SearchHit]
    next_cursor: str | None
    browsing: bool
    facets: dict[str, dict[str, int]]


def facet_counts(hits: Sequence[SearchHit]) -> dict[str, dict[str, int]]:
    """Per facet, the number of hits with each value, most frequent first (then by value)."""
    counts: dict[str, dict[str, int]] = {}
    for name, values_of in FACETS.items():
        counter = Counter(value for hit in hits for value in values_of(hit.item))
        counts[name] = dict(sorted(counter.items(), key=lambda entry: (-entry[1], entry[0])))
    return counts


async def item_by_code(session: AsyncSession, code: str) -> ServiceItem:
    item = await repository.get(session, code) if len(code) <= ITEM_CODE_MAX_LENGTH else None
    if item is None:
        raise ItemNotFound(f"no service item has code {code!r}", item_code=code)
    return item


def _listed_in(offered_in: Sequence[str], region: RegionCode) -> bool:
    """Whether an item is listed for this region: everywhere, or in a region containing it."""
    return not offered_in or any(RegionCode.parse(code).contains(region) for code in offered_in)


def responsible_department(
    snapshot: CatalogSnapshot, *, item_code: str, region_text: str
) -> Responsibility:
    """Walk up from the applicant's region (any level; a retired code through its successor) to
    the item's handling tier, and take the department of the item's type there.

    Everything comes from the in-memory snapshot: no database round trip."""
    item = snapshot.items.get(item_code)
    if item is None:
        name = snapshot.unpublished.get(item_code)
        if name is None:
            raise ItemNotFound(f"no service item has code {item_code!r}", item_code=item_code)
        region = regions.region_by_code(snapshot, region_text)
        raise ItemNotOfferedInRegion(
            f"{name} is no longer offered",
            item_code=item_code,
            region_code=region.code,
            offered_in=[],
        )
    region = regions.region_by_code(snapshot, region_text)
    resolved = regions.current_region(snapshot, region)
    if resolved is None:
        raise NoResponsibleDepartment(
            f"region {region.code} is retired and no successor is known",
            region_code=region.code,
            reason="retired_without_successor",
        )
    code = RegionCode.parse(resolved.code)
    if not _listed_in(item.offered_in, code):
        raise ItemNotOfferedInRegion(
            f"{item.name} is not offered in {resolved.name}",
            item_code=item.code,
            region_code=resolved.code,
            offered_in=list(item.offered_in),
        )
    tier = TIER_LEVELS[item.handling_tier]
    if code.level < tier:
        raise NoResponsibleDepartment(
            f"{item.name} is handled at {item.handling_tier} level: name a region at that "
            f"level or below",
            region_code=resolved.code,
            reason="region_above_handling_tier",
            handling_tier=item.handling_tier,
        )
    handling_region = code.at_level(tier).official
    department = snapshot.departments.get(department_id(handling_region, item.department_type))
    if department is None:
        raise NoResponsibleDepartment(
            f"no {item.department_type} department at {item.handling_tier} level serves "
            f"{resolved.name}",
            region_code=resolved.code,
            reason="no_department",
            department_type=item.department_type,
            handling_tier=item.handling_tier,
        )
    return Responsibility(
        item_code=item.code, region=region, resolved_region=resolved, department=department
    )


class ChangedSinceWithSearch(DomainError):
    status = 422
    code = "changed_since_with_search"
    title = "The change feed takes no search or filter parameters"


async def changes(
    session: AsyncSession,
    since: dt.datetime,
    *,
    limit: int,
    cursors: Cursors,
    cursor: str | None,
) -> tuple[list[ServiceItem], str | None]:
    """Items changed after ``since`` (published or withdrawn), a page at a time; a naive time
    is read as UTC."""
    since = since if since.tzinfo is not None else since.replace(tzinfo=dt.UTC)
    context = f"items:changes:{since.isoformat()}"
    position = cursors.decode_optional(context, cursor)
    after = (
        (dt.datetime.fromisoformat(position["at"]), position["code"])
        if position is not None
        else None
    )
    found = await repository.changed_since(session, since, after=after, limit=limit + 1)
    page = found[:limit]
    next_cursor = None
    if len(found) > limit and (last := page[-1]).changed_at is not None:
        next_cursor = cursors.encode(
            context, {"at": last.changed_at.isoformat(), "code": last.code}
        )
    return page, next_cursor


def _region_filter(
    snapshot: CatalogSnapshot, text: str
) -> tuple[RegionCode, set[tuple[str, str]]] | None:
    """The region to filter on and the (department type, tier) pairs serving it; None when the
    region is retired without a successor (then nothing serves it)."""
    region = regions.current_region(snapshot, regions.region_by_code(snapshot, text))
    if region is None:
        return None
    code = RegionCode.parse(region.code)
    lineage = [ancestor.official for ancestor in code.lineage]
    return code, serving_kinds(snapshot, lineage=lineage, below_prefix=code.prefix)


def _overlaps(offered_in: Sequence[str], region: RegionCode) -> bool:
    if not offered_in:
        return True
    for text in offered_in:
        offered = RegionCode.parse(text)
        if offered.contains(region) or region.contains(offered):
            return True
    return False


def search(
    snapshot: CatalogSnapshot,
    filters: SearchFilters,
    *,
    limit: int,
    cursors: Cursors,
    cursor: str | None,
) -> SearchPage:
    """Items matching the query (all items when there is none), filtered, a page at a time."""
    context = f"items:search:{filters.digest()}"
    position = cursors.decode_optional(context, cursor)
    offset: int = position["offset"] if position is not None else 0
    region_filter = _region_filter(snapshot, filters.region) if filters.region else None
    if filters.region and region_filter is None:
        return SearchPage(
            hits=[], next_cursor=None, browsing=not filters.q.strip(), facets=facet_counts([])
        )

    def wanted(item: IndexedItem) -> bool:
        if filters.subject and item.subject != filters.subject:
            return False
        if filters.department_type and item.department_type != filters.department_type:
            return False
        if filters.tier and item.handling_tier != filters.tier:
            return False
        if region_filter is not None:
            code, serving = region_filter
            if (item.department_type, item.handling_tier) not in serving:
                return False
            if not _overlaps(item.offered_in, code):
                return False
        return True

    browsing = not filters.q.strip()
    ranked = (
        [SearchHit(item, 0.0) for item in snapshot.index.items]
        if browsing
        else snapshot.index.search(filters.q)
    )
    hits = [hit for hit in ranked if wanted(hit.item)]
    page = hits[offset : offset + limit]
    more = offset + limit < len(hits)
    next_cursor = cursors.encode(context, {"offset": offset + limit}) if more else None
    return SearchPage(
        hits=page, next_cursor=next_cursor, browsing=browsing, facets=facet_counts(hits)
    )
