"""The snapshot's holder: built at start-up, replaced whole (readers keep the one they started
with) at once in the process that publishes or withdraws an item, after the request's
transaction commits, and in every process by a background task that every
``snapshot_check_seconds`` reads the stored fingerprint of the reference data (a new seed:
everything is read again) and the token that each publication or withdrawal replaces (the items
are read again)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.reference.departments import load_templates
from catalog_svc.reference.items import load_prefill_resources
from catalog_svc.search.index import SearchVocabulary
from catalog_svc.search.segmenter import load_segmenter
from catalog_svc.settings import CatalogSettings
from catalog_svc.snapshot import repository
from catalog_svc.snapshot.model import CatalogSnapshot
from catalog_svc.snapshot.repository import SearchTools
from servicekit.db import Database

log = structlog.get_logger("catalog_svc.snapshot")


class CatalogHolder:
    """Holds the current snapshot and replaces it when the stored fingerprint or the published
    items' token changes."""

    def __init__(self, snapshot: CatalogSnapshot, tools: SearchTools) -> None:
        self.snapshot = snapshot
        self._tools = tools
        # One reload at a time: the last to finish read after the others' commits.
        self._lock = asyncio.Lock()

    async def refresh_if_changed(self, session: AsyncSession) -> bool:
        """Load a new snapshot if the seed has loaded other reference data, or only its items
        if an administrator has published or withdrawn one since; whether it did."""
        stored = await repository.reference_fingerprint(session)
        if stored != self.snapshot.fingerprint:
            async with self._lock:
                self.snapshot = await repository.load_snapshot(session, self._tools)
            log.info(
                "catalog_snapshot_reloaded",
                regions=len(self.snapshot.regions),
                departments=len(self.snapshot.departments),
                items=len(self.snapshot.items),
            )
            return True
        token = await repository.items_token(session)
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
        published = await repository.published_items(session, self._tools)
        self.snapshot = replace(
            self.snapshot,
            index=published.index,
            items=published.items,
            unpublished=published.unpublished,
            items_token=published.token,
        )
        log.info("catalog_items_reloaded", items=len(published.items))


async def _watch(holder: CatalogHolder, database: Database, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            async with database.sessionmaker() as session:
                await holder.refresh_if_changed(session)
        except Exception:  # a failed check must not end the watch: the next one retries
            log.exception("catalog_snapshot_check_failed")


@contextlib.asynccontextmanager
async def catalog_snapshot(
    settings: CatalogSettings, database: Database
) -> AsyncIterator[CatalogHolder]:
    """Build the snapshot (with jieba's dictionary loaded here, once, rather than inside the
    first search request) and keep it fresh while the app runs."""
    tools = SearchTools(
        segmenter=await asyncio.to_thread(load_segmenter, settings.var_dir),
        vocabulary=SearchVocabulary.load(settings.data_dir),
        department_labels=load_templates(settings.data_dir).type_labels,
        prefill_resources=load_prefill_resources(settings.data_dir),
    )
    async with database.sessionmaker() as session:
        holder = CatalogHolder(await repository.load_snapshot(session, tools), tools)
    watcher = (
        asyncio.create_task(_watch(holder, database, settings.snapshot_check_seconds))
        if settings.snapshot_check_seconds > 0
        else None
    )
    try:
        yield holder
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
