"""The in-memory snapshot of the catalogue: every region, every department, the published items
and the search index over them, as plain frozen records."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from catalog_svc.search.index import IndexedItem, SearchIndex


@dataclass(frozen=True, slots=True)
class RegionRecord:
    """A region as the API shows it (the same attributes as the ``Region`` row)."""

    code: str
    prefix: str
    name: str
    level: str
    parent_code: str | None
    status: str
    successor_code: str | None


@dataclass(frozen=True, slots=True)
class DepartmentRecord:
    id: str
    name: str
    type: str
    tier: str
    region_code: str


@dataclass(frozen=True, slots=True)
class CatalogSnapshot:
    fingerprint: str | None
    regions: dict[str, RegionRecord]
    departments: dict[str, DepartmentRecord]
    index: SearchIndex
    #: Published items by code (the index's items).
    items: dict[str, IndexedItem] = field(default_factory=dict)
    #: Items that exist but are not published (withdrawn ones), code → name.
    unpublished: dict[str, str] = field(default_factory=dict)
    #: The token of the last publication or withdrawal the items were read after.
    items_token: str | None = None
    #: Every (department type, tier) some department has: what an item may be handled by.
    department_kinds: frozenset[tuple[str, str]] = frozenset()
    #: The data resources and fields a form field's ``x-prefill`` may name.
    prefill_resources: Mapping[str, frozenset[str]] = field(default_factory=dict)


def serving_kinds(
    snapshot: CatalogSnapshot, *, lineage: Sequence[str], below_prefix: str
) -> set[tuple[str, str]]:
    """The (type, tier) of departments in the region's lineage (official codes) or anywhere
    below it (by significant prefix)."""
    wanted = set(lineage)
    return {
        (department.type, department.tier)
        for department in snapshot.departments.values()
        if department.region_code in wanted or department.region_code.startswith(below_prefix)
    }
