"""catalog-svc's application: lifespan, routers, error handlers — nothing else."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from catalog_svc.admin.endpoints import router as admin_router
from catalog_svc.bundles.endpoints import router as bundles_router
from catalog_svc.departments.endpoints import router as departments_router
from catalog_svc.deps import CatalogState
from catalog_svc.items.endpoints import router as items_router
from catalog_svc.models import IdempotencyRecord
from catalog_svc.quality.board import quality_board
from catalog_svc.quality.endpoints import router as quality_router
from catalog_svc.regions.endpoints import router as regions_router
from catalog_svc.settings import CatalogSettings
from catalog_svc.snapshot import catalog_snapshot
from servicekit.app import build_app
from servicekit.auth import JwksSource
from servicekit.db import utcnow
from servicekit.state import ServiceState


def create_app(
    settings: CatalogSettings | None = None, *, jwks: JwksSource | None = None
) -> FastAPI:
    settings = settings or CatalogSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI, kit: ServiceState) -> AsyncIterator[CatalogState]:
        async with (
            catalog_snapshot(settings, kit.database) as holder,
            quality_board(
                kit.database, every_seconds=settings.quality_refresh_seconds, clock=utcnow
            ) as board,
        ):
            yield CatalogState.over(kit, catalog=holder, quality=board)

    return build_app(
        settings,
        title="OneVisit catalog-svc",
        routers=[
            regions_router,
            departments_router,
            items_router,
            bundles_router,
            admin_router,
            quality_router,
        ],
        lifespan=lifespan,
        jwks=jwks,
        idempotency_records=IdempotencyRecord,
    )
