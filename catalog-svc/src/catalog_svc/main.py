"""catalog-svc's application: lifespan, routers, error handlers — nothing else."""

from fastapi import FastAPI

from catalog_svc.admin.endpoints import router as admin_router
from catalog_svc.bundles.endpoints import router as bundles_router
from catalog_svc.items.endpoints import router as items_router
from catalog_svc.models import IdempotencyRecord
from catalog_svc.regions.endpoints import router as regions_router
from catalog_svc.settings import CatalogSettings
from catalog_svc.snapshot import catalog_snapshot
from servicekit.app import build_app
from servicekit.auth import JwksSource


def create_app(
    settings: CatalogSettings | None = None, *, jwks: JwksSource | None = None
) -> FastAPI:
    return build_app(
        settings or CatalogSettings(),
        title="OneVisit catalog-svc",
        routers=[regions_router, items_router, bundles_router, admin_router],
        lifespan=catalog_snapshot,
        jwks=jwks,
        idempotency_records=IdempotencyRecord,
    )
