"""rating-svc's application: lifespan, routers, error handlers — nothing else."""

from fastapi import FastAPI

from rating_svc.models import IdempotencyRecord
from rating_svc.ratings.endpoints import router as ratings_router
from rating_svc.settings import RatingSettings
from servicekit.app import build_app
from servicekit.auth import JwksSource


def create_app(
    settings: RatingSettings | None = None, *, jwks: JwksSource | None = None
) -> FastAPI:
    return build_app(
        settings or RatingSettings(),
        title="OneVisit rating-svc",
        routers=[ratings_router],
        jwks=jwks,
        idempotency_records=IdempotencyRecord,
    )
