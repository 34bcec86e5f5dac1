"""rating-svc's application: lifespan, routers, error handlers — nothing else."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from rating_svc.deps import RatingState
from rating_svc.invitations.endpoints import router as invitations_router
from rating_svc.models import IdempotencyRecord
from rating_svc.ratings.endpoints import router as ratings_router
from rating_svc.rectifications import service as rectifications
from rating_svc.rectifications.endpoints import router as rectifications_router
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
    # The clock rating windows and deadlines are read from; tests replace it
    # (app.state.service.clock), which the watch follows.
    state = RatingState.over(kit, clock=utcnow)
    watching = (
        asyncio.create_task(
            rectifications.watch_rectifications(
                kit.database.sessionmaker,
                lambda: state.clock(),
                every_seconds=settings.rectification_watch_seconds,
            ),
            name="rectification-watch",
        )
        if settings.rectification_watch_seconds > 0
        else None
    )
    try:
        yield state
    finally:
        if watching is not None:
            watching.cancel()
            with suppress(asyncio.CancelledError):
                await watching


def create_app(
    settings: RatingSettings | None = None, *, jwks: JwksSource | None = None
) -> FastAPI:
    return build_app(
        settings or RatingSettings(),
        title="OneVisit rating-svc",
        routers=[ratings_router, invitations_router, rectifications_router],
        lifespan=_lifespan,
        jwks=jwks,
        idempotency_records=IdempotencyRecord,
    )
