"""data-exchange-svc's application: lifespan, routers, error handlers — nothing else."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from data_exchange_svc.calls.cases import CasesOfSubjects
from data_exchange_svc.calls.endpoints import router as calls_router
from data_exchange_svc.calls.service import AccessChecks
from data_exchange_svc.certificates.endpoints import router as certificates_router
from data_exchange_svc.citizens.access_notices import telling_accesses
from data_exchange_svc.citizens.endpoints import links_router as citizen_links_router
from data_exchange_svc.citizens.endpoints import router as citizens_router
from data_exchange_svc.datasets.endpoints import changes_router
from data_exchange_svc.datasets.endpoints import router as datasets_router
from data_exchange_svc.deps import ExchangeState
from data_exchange_svc.grants.cache import ActiveGrants
from data_exchange_svc.grants.endpoints import router as grants_router
from data_exchange_svc.grants.rate_limits import GrantRateLimiter
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.ledger.appender import LedgerAppender
from data_exchange_svc.ledger.endpoints import router as ledger_router
from data_exchange_svc.ledger.service import ensure_signer
from data_exchange_svc.lifeevents.delivery import LifeEventOutboxes, relaying
from data_exchange_svc.lifeevents.endpoints import router as subscriptions_router
from data_exchange_svc.lifeevents.publishing import Publication
from data_exchange_svc.lifeevents.sweep import sweep_once, sweeping
from data_exchange_svc.models import IdempotencyRecord
from data_exchange_svc.remote.providers import RemoteProviders
from data_exchange_svc.resources.catalogue import Catalogue
from data_exchange_svc.resources.endpoints import router as resources_router
from data_exchange_svc.resources.values import today_in_china
from data_exchange_svc.settings import ExchangeSettings
from servicekit.app import build_app
from servicekit.auth import JwksSource
from servicekit.db import Database, utcnow
from servicekit.state import ServiceState


@asynccontextmanager
async def _sweeping_due_dates(
    settings: ExchangeSettings,
    kit: ServiceState,
    life_events: LifeEventOutboxes,
    *,
    access_checks: AccessChecks,
    ledger: LedgerAppender,
    identifiers: IdentifierProtector,
) -> AsyncIterator[None]:
    """The sweep of dates come due (lifeevents.sweep), in the background while the block runs;
    none when ``LIFE_EVENT_SWEEP_SECONDS`` is 0."""
    if not settings.life_event_sweep_seconds:
        yield
        return

    async def sweep() -> int:
        publication = Publication(
            deliveries=life_events.deliveries,
            platform=life_events.platform,
            active_grants=access_checks.active_grants,
            identity_service=settings.identity_service,
            today=today_in_china(),
        )
        return await sweep_once(
            kit.database.sessionmaker,
            publication,
            ledger=ledger,
            protector=identifiers,
            digest_key=settings.hash_key_bytes,
            now=utcnow(),
        )

    task = asyncio.create_task(
        sweeping(settings.life_event_sweep_seconds, sweep), name="life-event-sweep"
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(
    settings: ExchangeSettings | None = None, *, jwks: JwksSource | None = None
) -> FastAPI:
    settings = settings or ExchangeSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI, kit: ServiceState) -> AsyncIterator[ExchangeState]:
        identifiers = IdentifierProtector(hash_key=settings.hash_key_bytes)
        # What every call is checked by, kept in memory (see resources.catalogue, grants.cache,
        # grants.rate_limits and calls.cases).
        rate_limiter = (
            GrantRateLimiter.in_redis(
                settings.redis_url,
                key_prefix=settings.redis_key_prefix,
                timeout_seconds=settings.redis_timeout_seconds,
            )
            if settings.redis_url
            else GrantRateLimiter.in_process()
        )
        access_checks = AccessChecks(
            catalogue=Catalogue(
                kit.database.sessionmaker,
                refresh_seconds=settings.catalogue_refresh_seconds,
            ),
            active_grants=ActiveGrants(ttl_seconds=settings.grant_cache_seconds),
            rate_limiter=rate_limiter,
            cases_of_subjects=CasesOfSubjects(ttl_seconds=settings.case_cache_seconds),
        )
        # The appender has an engine of its own: requests hold their connection while they wait
        # for their entry, and must never be able to take the connection it needs to write it.
        ledger_database = Database(settings.database_url)
        try:
            signer = await ensure_signer(
                ledger_database.sessionmaker, settings.ledger_key_encryption_key_bytes
            )
            appender = LedgerAppender(
                ledger_database.engine, signer, batch_limit=settings.ledger_batch_limit
            )
            remote_providers = RemoteProviders(settings, signer)
            life_events = LifeEventOutboxes.of(settings, utcnow)
            appender.start()
            try:
                async with (
                    relaying(
                        life_events,
                        settings=settings,
                        sessionmaker=kit.database.sessionmaker,
                        gateway=kit.http,
                        active_grants=access_checks.active_grants,
                    ),
                    _sweeping_due_dates(
                        settings,
                        kit,
                        life_events,
                        access_checks=access_checks,
                        ledger=appender,
                        identifiers=identifiers,
                    ),
                    telling_accesses(
                        kit.database.sessionmaker,
                        life_events.platform,
                        poll_seconds=settings.access_notice_seconds,
                        batch_limit=settings.access_notice_batch_limit,
                    ),
                ):
                    yield ExchangeState.over(
                        kit,
                        identifiers=identifiers,
                        access_checks=access_checks,
                        ledger_signer=signer,
                        ledger=appender,
                        remote_providers=remote_providers,
                        life_events=life_events,
                    )
            finally:
                await appender.stop()
                await remote_providers.aclose()
                await rate_limiter.aclose()
        finally:
            await ledger_database.dispose()

    return build_app(
        settings,
        title="OneVisit data-exchange-svc",
        routers=[
            resources_router,
            datasets_router,
            changes_router,
            certificates_router,
            calls_router,
            grants_router,
            ledger_router,
            citizens_router,
            citizen_links_router,
            subscriptions_router,
        ],
        lifespan=lifespan,
        idempotency_records=IdempotencyRecord,
        jwks=jwks,
    )
