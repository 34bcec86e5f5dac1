"""The in-memory snapshot of the catalogue that reads are answered from: every region, every
department and the search index over published items, with the fingerprint of the reference data
they were loaded from.

Regions (~27,000) and departments (~3,500) change only when the seed loads new reference files,
so region lookups, handler resolution and search read them from memory rather than making a
database round trip per request. The snapshot is built at start-up and replaced whole (readers
keep the one they started with):

- at once in the process that publishes or withdraws an item through the administration API,
  after the request's transaction commits (``SnapshotRefreshDep``): its items and search index
  are read again, the regions and departments kept;
- in every process, by a background task that every ``snapshot_check_seconds`` reads the stored
  fingerprint of the reference data (a new seed: everything is read again) and the token that
  each publication or withdrawal replaces (the items are read again).
"""

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.items import repository as items_repository
from catalog_svc.models import Department, Region
from catalog_svc.reference import repository as reference_repository
from catalog_svc.reference.departments import load_templates
from catalog_svc.reference.items import load_prefill_resources
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
    #: The token of the last publication or withdrawal the items were read after.
    items_token: str | None = None
    #: Every (department type, tier) some department has: what an item may be handled by.
    department_kinds: frozenset[tuple[str, str]] = frozenset()
    #: The data resources and fields a form field's ``x-prefill`` may name.
    prefill_resources: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _SearchTools:
    segmenter: Segmenter
    vocabulary: SearchVocabulary
    department_labels: Mapping[str, str]
    prefill_resources: Mapping[str, frozenset[str]]


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


@dataclass(frozen=True, slots=True)
class _PublishedItems:
    items: dict[str, IndexedItem]
    unpublished: dict[str, str]
    index: SearchIndex
    token: str | None


async def _published_items(session: AsyncSession, tools: _SearchTools) -> _PublishedItems:
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
    return _PublishedItems(
        items={item.code: item for item in items},
        unpublished={row[0]: row[1] for row in unpublished_rows},
        index=index,
        token=token,
    )


async def load_snapshot(session: AsyncSession, tools: _SearchTools) -> CatalogSnapshot:
    """Read regions, departments and items, and build the search index."""
    fingerprint = await reference_repository.loaded_fingerprint(session, DATASET_NAME)
    regions, departments = await _regions_and_departments(session, fingerprint)
    published = await _published_items(session, tools)
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


class CatalogHolder:
    """Holds the current snapshot and replaces it when the stored fingerprint or the published
    items' token changes."""

    def __init__(self, snapshot: CatalogSnapshot, tools: _SearchTools) -> None:
        self.snapshot = snapshot
        self._tools = tools
        # One reload at a time: the last to finish read after the others' commits.
        self._lock = asyncio.Lock()

    async def refresh_if_changed(self, session: AsyncSession) -> bool:
        """Load a new snapshot if the seed has loaded other reference data, or only its items
        if an administrator has published or withdrawn one since; whether it did."""
        stored = await reference_repository.loaded_fingerprint(session, DATASET_NAME)
        if stored != self.snapshot.fingerprint:
            async with self._lock:
                self.snapshot = await load_snapshot(session, self._tools)
            log.info(
                "catalog_snapshot_reloaded",
                regions=len(self.snapshot.regions),
                departments=len(self.snapshot.departments),
                items=len(self.snapshot.items),
            )
            return True
        token = await items_repository.published_items_token(session)
        if token == self.snapshot.items_token:
            return False
        async with self._lock:
            await self._replace_items(session)
        return True

    async def reload_items(self, database: Database) -> None:
        """Read the items again (after a publication or withdrawal has committed) and swap in
        a snapshot with them and a new search index; regions and departments are kept."""
        async with self._lock, database.sessionmaker() as session:
            await self._replace_items(session)

    async def _replace_items(self, session: AsyncSession) -> None:
        published = await _published_items(session, self._tools)
        self.snapshot = replace(
            self.snapshot,
            index=published.index,
            items=published.items,
            unpublished=published.unpublished,
            items_token=published.token,
        )
        log.info("catalog_items_reloaded", items=len(published.items))


def current_snapshot(request: Request) -> CatalogSnapshot:
    holder: CatalogHolder = request.app.state.catalog
    return holder.snapshot


class SnapshotRefresh:
    """Asked for by a request that publishes or withdraws an item; done once the request's
    transaction has committed, before the answer is sent, so that the next read in this
    process already sees the change."""

    def __init__(self) -> None:
        self.wanted = False

    def after_commit(self) -> None:
        self.wanted = True


async def _refresh_after_commit(request: Request) -> AsyncIterator[SnapshotRefresh]:
    # Declared on the router, this dependency is entered before the request's session and so
    # left after it: after the commit. An error (the endpoint's or the commit's) is raised here
    # at the yield and skips the reload.
    refresh = SnapshotRefresh()
    yield refresh
    if not refresh.wanted:
        return
    holder: CatalogHolder = request.app.state.catalog
    try:
        await holder.reload_items(request.app.state.database)
    except Exception:  # committed already: the watch reloads at its next check
        log.exception("catalog_items_reload_failed")


#: Router dependency of every route that may publish or withdraw (``dependencies=[...]``, so
#: that it is entered before the session) and parameter of those that do (the same object).
SnapshotRefreshDepends = Depends(_refresh_after_commit, scope="function")
SnapshotRefreshDep = Annotated[SnapshotRefresh, SnapshotRefreshDepends]


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
        prefill_resources=load_prefill_resources(settings.data_dir),
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
