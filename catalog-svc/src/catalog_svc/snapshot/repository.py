"""Every read the snapshot is built from: regions and departments (kept per fingerprint of the
reference data), the published items and the search index over them.

Regions and departments are kept by the fingerprint of the reference data they were read from
(only the seed writes them, so one fingerprint means one content): apps of one process over the
same data (tests, workers restarted in place) share them instead of reading 30,000 rows again.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.items import repository as items_repository
from catalog_svc.models import Department, Region
from catalog_svc.reference import repository as reference_repository
from catalog_svc.search.index import IndexedItem, SearchIndex, SearchVocabulary
from catalog_svc.search.segmenter import Segmenter
from catalog_svc.seed import DATASET_NAME
from catalog_svc.snapshot.model import CatalogSnapshot, DepartmentRecord, RegionRecord


@dataclass(frozen=True, slots=True)
class SearchTools:
    segmenter: Segmenter
    vocabulary: SearchVocabulary
    department_labels: Mapping[str, str]
    prefill_resources: Mapping[str, frozenset[str]]


def _indexed(row: dict[str, object]) -> IndexedItem:
    def strings(key: str) -> tuple[str, ...]:
        value = row[key]
        return tuple(str(entry) for entry in value) if isinstance(value, list) else ()

    min_loa = row["min_loa"]
    promised = row["promised_working_days"]
    return IndexedItem(
        code=str(row["code"]),
        name=str(row["name"]),
        department_type=str(row["department_type"]),
        handling_tier=str(row["handling_tier"]),
        subject=str(row["subject"]),
        processing_mode=str(row["processing_mode"]),
        min_loa=min_loa if isinstance(min_loa, int) else 1,
        promised_working_days=promised if isinstance(promised, int) else None,
        offered_in=strings("offered_in"),
        aliases=strings("aliases"),
        keywords=strings("keywords"),
        topics=strings("topics"),
    )


#: Regions and departments by the fingerprint of the reference data they were read from.
_REFERENCE_KEPT = 2
_reference: "OrderedDict[str, tuple[dict[str, RegionRecord], dict[str, DepartmentRecord]]]" = (
    OrderedDict()
)


async def _regions_and_departments(
    session: AsyncSession, fingerprint: str | None
) -> tuple[dict[str, RegionRecord], dict[str, DepartmentRecord]]:
    if fingerprint is not None and (kept := _reference.get(fingerprint)) is not None:
        return kept
    region_rows = await session.execute(
        select(
            Region.code,
            Region.prefix,
            Region.name,
            Region.level,
            Region.parent_code,
            Region.status,
            Region.successor_code,
        )
    )
    regions = {row[0]: RegionRecord(*row) for row in region_rows}
    department_rows = await session.execute(
        select(
            Department.id, Department.name, Department.type, Department.tier, Department.region_code
        )
    )
    departments = {row[0]: DepartmentRecord(*row) for row in department_rows}
    if fingerprint is not None:
        _reference[fingerprint] = (regions, departments)
        while len(_reference) > _REFERENCE_KEPT:
            _reference.popitem(last=False)
    return regions, departments


@dataclass(frozen=True, slots=True)
class PublishedItems:
    items: dict[str, IndexedItem]
    unpublished: dict[str, str]
    index: SearchIndex
    token: str | None


async def published_items(session: AsyncSession, tools: SearchTools) -> PublishedItems:
    """The published items (plain column tuples, not ORM objects), the codes and names of the
    others, and the search index over the published ones, built in a worker thread."""
    token = await items_repository.published_items_token(session)
    items = [_indexed(row) for row in await items_repository.published_for_index(session)]
    unpublished_rows = await session.execute(items_repository.UNPUBLISHED_NAMES)
    index = await asyncio.to_thread(
        SearchIndex.build,
        items,
        segmenter=tools.segmenter,
        vocabulary=tools.vocabulary,
        department_labels=tools.department_labels,
    )
    return PublishedItems(
        items={item.code: item for item in items},
        unpublished={row[0]: row[1] for row in unpublished_rows},
        index=index,
        token=token,
    )


async def load_snapshot(session: AsyncSession, tools: SearchTools) -> CatalogSnapshot:
    """Read regions, departments and items, and build the search index."""
    fingerprint = await reference_fingerprint(session)
    regions, departments = await _regions_and_departments(session, fingerprint)
    published = await published_items(session, tools)
    return CatalogSnapshot(
        fingerprint=fingerprint,
        regions=regions,
        departments=departments,
        index=published.index,
        items=published.items,
        unpublished=published.unpublished,
        items_token=published.token,
        department_kinds=frozenset(
            (department.type, department.tier) for department in departments.values()
        ),
        prefill_resources=tools.prefill_resources,
    )


async def items_token(session: AsyncSession) -> str | None:
    """The token each publication or withdrawal replaces."""
    return await items_repository.published_items_token(session)


async def reference_fingerprint(session: AsyncSession) -> str | None:
    """The fingerprint of the reference data the seed loaded last."""
    return await reference_repository.loaded_fingerprint(session, DATASET_NAME)
