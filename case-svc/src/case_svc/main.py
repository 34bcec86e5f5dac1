"""case-svc's application: lifespan, routers, error handlers — nothing else."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext, suppress

import structlog
from fastapi import FastAPI

from case_svc.bundles.endpoints import router as bundles_router
from case_svc.cases import handling
from case_svc.cases.endpoints import router as cases_router
from case_svc.clients.catalog import CatalogReads
from case_svc.deps import CaseState
from case_svc.drafts.endpoints import router as drafts_router
from case_svc.events import EVENT_TYPES
from case_svc.materials.endpoints import router as materials_router
from case_svc.models import IdempotencyRecord, OutboxEvent
from case_svc.publications import service as publications
from case_svc.settings import CaseSettings
from case_svc.supervision.endpoints import router as supervision_router
from servicekit.app import build_app
from servicekit.auth import JwksSource
from servicekit.db import utcnow
from servicekit.events import Outbox, Relay
from servicekit.service_tokens import ClientCredentials
from servicekit.state import ServiceState

log = structlog.get_logger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI, kit: ServiceState) -> AsyncIterator[CaseState]:
    settings = kit.settings
    if not isinstance(settings, CaseSettings):  # create_app builds it from CaseSettings
        raise TypeError("case-svc runs on CaseSettings")
    # The clock case numbers, deadlines and events are read from; tests replace it with a
    # fixed one (app.state.service.clock), which the outbox and the deadline watch follow.
    state = CaseState.over(
        kit,
        clock=utcnow,
        outbox=_outbox(settings, lambda: state.clock()),
        catalog_reads=CatalogReads(settings.catalog_cache_seconds),
    )
    token = _service_token(settings, state)
    state.service_token = token
    relay = _relay(settings, state, token)
    watching = (
        asyncio.create_task(
            handling.watch_deadlines(
                kit.database.sessionmaker,
                state.outbox,
                lambda: state.clock(),
                every_seconds=settings.deadline_watch_seconds,
            ),
            name="deadline-watch",
        )
        if settings.deadline_watch_seconds > 0
        else None
    )
    publishing = _publisher(settings, state, token)
    try:
        async with relay.running() if relay is not None else nullcontext():
            yield state
    finally:
        for task in (watching, publishing):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task


def _publisher(
    settings: CaseSettings, state: CaseState, token: ClientCredentials | None
) -> "asyncio.Task[None] | None":
    """The task that publishes issued certificates to the exchange, as case-svc itself; none
    without a client secret (they wait, pending, shown so on their cases)."""
    if settings.certificate_publish_seconds <= 0:
        return None
    if token is None:
        log.warning("certificates_not_published", reason="CASE_CLIENT_SECRET is not set")
        return None
    return asyncio.create_task(
        publications.publish_certificates(
            state.database.sessionmaker,
            state.http,
            token,
            lambda: state.clock(),
            every_seconds=settings.certificate_publish_seconds,
        ),
        name="certificate-publisher",
    )


def _outbox(settings: CaseSettings, clock: Callable[[], dt.datetime]) -> Outbox:
    subscriptions = {kind: settings.event_subscribers.get(kind, []) for kind in EVENT_TYPES}
    return Outbox(OutboxEvent, source="/cases", subscriptions=subscriptions, clock=clock)


def _service_token(settings: CaseSettings, state: CaseState) -> ClientCredentials | None:
    """case-svc's own token, with its client credentials; none without a secret (then events
    are not relayed and no certificate is read from the exchange)."""
    if settings.client_secret is None:
        return None
    return ClientCredentials(
        state.http, client_id=settings.client_id, client_secret=settings.client_secret
    )


def _relay(
    settings: CaseSettings, state: CaseState, token: ClientCredentials | None
) -> Relay | None:
    """The relay that delivers the events to their subscribers, with case-svc's own client
    credentials; none while no one subscribes."""
    if not any(settings.event_subscribers.values()):
        return None
    if token is None:
        log.warning("events_not_relayed", reason="CASE_CLIENT_SECRET is not set")
        return None
    return Relay(
        state.outbox,
        sessionmaker=state.database.sessionmaker,
        http=state.http,
        token=token,
        policy=settings.relay_policy(),
    )


def create_app(settings: CaseSettings | None = None, *, jwks: JwksSource | None = None) -> FastAPI:
    return build_app(
        settings or CaseSettings(),
        title="OneVisit case-svc",
        routers=[
            cases_router,
            drafts_router,
            bundles_router,
            supervision_router,
            materials_router,
        ],
        lifespan=_lifespan,
        jwks=jwks,
        idempotency_records=IdempotencyRecord,
    )
