"""rating-svc's application: lifespan, routers, error handlers — nothing else."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from rating_svc.deps import RatingState
from rating_svc.invitations.endpoints import router as invitations_router
from rating_svc.models import IdempotencyRecord
from rating_svc.ratings.endpoints import router as ratings_router
from rating_svc.settings import RatingSettings
from servicekit.app import build_app
from servicekit.auth import JwksSource
from servicekit.db import utcnow
from servicekit.state import ServiceState


@asynccontextmanager
async def _lifespan(app: FastAPI, kit: ServiceState) -> AsyncIterator[RatingState]:
    settings = kit.settings
    if not isinstance(settings, RatingSettings):  # create_app builds it from RatingSettings
        raise TypeError("rating-svc runs on RatingSettings")
    # The clock rating windows are read from; tests replace it (app.state.service.clock).
    yield RatingState.over(kit, clock=utcnow)


def create_app(
    settings: RatingSettings | None = None, *, jwks: JwksSource | None = None
) -> FastAPI:
    return build_app(
        settings or RatingSettings(),
        title="OneVisit rating-svc",
        routers=[ratings_router, invitations_router],
        lifespan=_lifespan,
        jwks=jwks,
        idempotency_records=IdempotencyRecord,
    )
