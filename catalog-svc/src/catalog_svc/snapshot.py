"""The in-memory snapshot of the catalogue that reads are answered from: every region, every
department and the search index over published items, with the fingerprint of the reference data
they were loaded from.

Regions (~27,000) and departments (~3,500) change only when the seed loads new reference files,
so region lookups and handler resolution read them from memory rather than making a database round
trip per request. The snapshot is built at start-up; a background task reads the stored
fingerprint every ``snapshot_check_seconds`` and, when the seed has loaded other data since,
builds a new snapshot and swaps it in whole (readers keep the one they started with).
"""

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from fastapi import FastAPI, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.items import repository as items_repository
from catalog_svc.models import Department, Region
from catalog_svc.reference import repository as reference_repository
from catalog_svc.reference.departments import load_templates
from catalog_svc.search.index import IndexedItem, SearchIndex, SearchVocabulary
from catalog_svc.search.segmenter import Segmenter, load_segmenter
from catalog_svc.seed import DATASET_NAME
from catalog_svc.settings import CatalogSettings
from servicekit.db import Database

log = structlog.get_logger("catalog_svc.snapshot")


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


@dataclass(frozen=True, slots=True)
class _SearchTools:
    segmenter: Segmenter
    vocabulary: SearchVocabulary
    department_labels: Mapping[str, str]


def _indexed(row: dict[str, object]) -> IndexedItem:
    def strings(key: str) -> tuple[str, ...]:
        value = row[key]
        return tuple(str(entry) for entry in value) if isinstance(value, list) else ()

    min_loa = row["min_loa"]
    return IndexedItem(
        code=str(row["code"]),
        name=str(row["name"]),
        department_type=str(row["department_type"]),
        handling_tier=str(row["handling_tier"]),
        subject=str(row["subject"]),
        processing_mode=str(row["processing_mode"]),
        min_loa=min_loa if isinstance(min_loa, int) else 1,
        offered_in=strings("offered_in"),
        aliases=strings("aliases"),
        keywords=strings("keywords"),
        topics=strings("topics"),
    )


#: Regions and departments by the fingerprint of the reference data they were read from (only
#: the seed writes them, so one fingerprint means one content): apps of one process over the same
#: data (tests, workers restarted in place) share them instead of reading 30,000 rows again.
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


async def load_snapshot(session: AsyncSession, tools: _SearchTools) -> CatalogSnapshot:
    """Read regions, departments and published items (plain column tuples, not ORM objects)
    and build the search index in a worker thread."""
    fingerprint = await reference_repository.loaded_fingerprint(session, DATASET_NAME)
    regions, departments = await _regions_and_departments(session, fingerprint)
    items = [_indexed(row) for row in await items_repository.published_for_index(session)]
    unpublished_rows = await session.execute(items_repository.UNPUBLISHED_NAMES)
    unpublished: dict[str, str] = {row[0]: row[1] for row in unpublished_rows}
    index = await asyncio.to_thread(
        SearchIndex.build,
        items,
        segmenter=tools.segmenter,
        vocabulary=tools.vocabulary,
        department_labels=tools.department_labels,
    )
    return CatalogSnapshot(
        fingerprint=fingerprint,
        regions=regions,
        departments=departments,
        index=index,
        items={item.code: item for item in items},
        unpublished=unpublished,
    )


class CatalogHolder:
    """Holds the current snapshot and replaces it when the stored fingerprint changes."""

    def __init__(self, snapshot: CatalogSnapshot, tools: _SearchTools) -> None:
        self.snapshot = snapshot
        self._tools = tools

    async def refresh_if_changed(self, session: AsyncSession) -> bool:
        """Load a new snapshot if the seed has loaded other reference data; whether it did."""
        stored = await reference_repository.loaded_fingerprint(session, DATASET_NAME)
        if stored == self.snapshot.fingerprint:
            return False
        self.snapshot = await load_snapshot(session, self._tools)
        log.info(
            "catalog_snapshot_reloaded",
            regions=len(self.snapshot.regions),
            departments=len(self.snapshot.departments),
            items=len(self.snapshot.items),
        )
        return True


def current_snapshot(request: Request) -> CatalogSnapshot:
    holder: CatalogHolder = request.app.state.catalog
    return holder.snapshot


async def _watch(holder: CatalogHolder, database: Database, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            async with database.sessionmaker() as session:
                await holder.refresh_if_changed(session)
        except Exception:  # a failed check must not end the watch: the next one retries
            log.exception("catalog_snapshot_check_failed")


@contextlib.asynccontextmanager
async def catalog_snapshot(app: FastAPI) -> AsyncIterator[None]:
    """Build the snapshot (with jieba's dictionary loaded here, once, rather than inside the
    first search request) and keep it fresh while the app runs."""
    settings: CatalogSettings = app.state.settings
    database: Database = app.state.database
    tools = _SearchTools(
        segmenter=await asyncio.to_thread(load_segmenter, settings.var_dir),
        vocabulary=SearchVocabulary.load(settings.data_dir),
        department_labels=load_templates(settings.data_dir).type_labels,
    )
    async with database.sessionmaker() as session:
        holder = CatalogHolder(await load_snapshot(session, tools), tools)
    app.state.catalog = holder
    watcher = (
        asyncio.create_task(_watch(holder, database, settings.snapshot_check_seconds))
        if settings.snapshot_check_seconds > 0
        else None
    )
    try:
        yield
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


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
