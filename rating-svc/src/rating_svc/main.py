"""rating-svc's application: lifespan, routers, error handlers — nothing else."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext, suppress

import structlog
from fastapi import FastAPI

from rating_svc.appeals.endpoints import router as appeals_router
from rating_svc.deps import RatingState
from rating_svc.events import EVENT_TYPES
from rating_svc.invitations.endpoints import router as invitations_router
from rating_svc.models import IdempotencyRecord, OutboxEvent
from rating_svc.ratings.endpoints import router as ratings_router
from rating_svc.rectifications import service as rectifications
from rating_svc.rectifications.endpoints import router as rectifications_router
from rating_svc.settings import RatingSettings
from rating_svc.statistics.endpoints import router as statistics_router
from servicekit.app import build_app
from servicekit.auth import JwksSource
from servicekit.db import utcnow
from servicekit.events import Outbox, Relay
from servicekit.service_tokens import ClientCredentials
from servicekit.state import ServiceState

log = structlog.get_logger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI, kit: ServiceState) -> AsyncIterator[RatingState]:
    settings = kit.settings
    if not isinstance(settings, RatingSettings):  # create_app builds it from RatingSettings
        raise TypeError("rating-svc runs on RatingSettings")
    # The clock rating windows, deadlines and events are read from; tests replace it
    # (app.state.service.clock), which the outbox and the watch follow.
    state = RatingState.over(kit, clock=utcnow, outbox=_outbox(settings, lambda: state.clock()))
    relay = _relay(settings, state)
    watching = (
        asyncio.create_task(
            rectifications.watch_rectifications(
                kit.database.sessionmaker,
                state.outbox,
                lambda: state.clock(),
                every_seconds=settings.rectification_watch_seconds,
            ),
            name="rectification-watch",
        )
        if settings.rectification_watch_seconds > 0
        else None
    )
    try:
        async with relay.running() if relay is not None else nullcontext():
            yield state
    finally:
        if watching is not None:
            watching.cancel()
            with suppress(asyncio.CancelledError):
                await watching


def _outbox(settings: RatingSettings, clock: Callable[[], dt.datetime]) -> Outbox:
    subscriptions = {kind: settings.event_subscribers.get(kind, []) for kind in EVENT_TYPES}
    return Outbox(OutboxEvent, source="/ratings", subscriptions=subscriptions, clock=clock)


def _relay(settings: RatingSettings, state: RatingState) -> Relay | None:
    """The relay that delivers the events to their subscribers, with rating-svc's own client
    credentials; none while no one subscribes, or without a secret (the events then wait)."""
    if not any(settings.event_subscribers.values()):
        return None
    if settings.client_secret is None:
        log.warning("events_not_relayed", reason="RATING_CLIENT_SECRET is not set")
        return None
    token = ClientCredentials(
        state.http, client_id=settings.client_id, client_secret=settings.client_secret
    )
    return Relay(
        state.outbox,
        sessionmaker=state.database.sessionmaker,
        http=state.http,
        token=token,
        policy=settings.relay_policy(),
    )


def create_app(
    settings: RatingSettings | None = None, *, jwks: JwksSource | None = None
) -> FastAPI:
    return build_app(
        settings or RatingSettings(),
        title="OneVisit rating-svc",
        routers=[
            ratings_router,
            invitations_router,
            rectifications_router,
            appeals_router,
            statistics_router,
        ],
        lifespan=_lifespan,
        jwks=jwks,
        idempotency_records=IdempotencyRecord,
    )
