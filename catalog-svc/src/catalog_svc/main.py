"""catalog-svc's application: lifespan, routers, error handlers — nothing else."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from catalog_svc.bundles.endpoints import router as bundles_router
from catalog_svc.items import service as items_service
from catalog_svc.items.endpoints import router as items_router
from catalog_svc.reference.departments import load_templates
from catalog_svc.regions.endpoints import router as regions_router
from catalog_svc.search.index import SearchIndex, SearchVocabulary
from catalog_svc.search.segmenter import load_segmenter
from catalog_svc.settings import CatalogSettings
from servicekit.app import build_app
from servicekit.auth import JwksSource
from servicekit.db import Database


@asynccontextmanager
async def catalog_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the search index from the database, with jieba's dictionary loaded here, once,
    rather than inside the first search request."""
    settings: CatalogSettings = app.state.settings
    database: Database = app.state.database
    segmenter = await asyncio.to_thread(load_segmenter, settings.var_dir)
    vocabulary = SearchVocabulary.load(settings.data_dir)
    labels = load_templates(settings.data_dir).type_labels
    async with database.sessionmaker() as session:
        items = await items_service.indexable_items(session)
    app.state.search_index = await asyncio.to_thread(
        SearchIndex.build,
        items,
        segmenter=segmenter,
        vocabulary=vocabulary,
        department_labels=labels,
    )
    yield


def create_app(
    settings: CatalogSettings | None = None, *, jwks: JwksSource | None = None
) -> FastAPI:
    return build_app(
        settings or CatalogSettings(),
        title="OneVisit catalog-svc",
        routers=[regions_router, items_router, bundles_router],
        lifespan=catalog_lifespan,
        jwks=jwks,
    )
