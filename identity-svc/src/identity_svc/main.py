"""identity-svc's application: lifespan, routers, error handlers — nothing else."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import structlog
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from identity_svc.accounts.endpoints import router as accounts_router
from identity_svc.credentials.endpoints import router as credentials_router
from identity_svc.delegations.endpoints import router as delegations_router
from identity_svc.deps import IdentityState
from identity_svc.enterprises.endpoints import router as enterprises_router
from identity_svc.inbox.endpoints import router as inbox_router
from identity_svc.keys.endpoints import router as keys_router
from identity_svc.models import IdempotencyRecord
from identity_svc.oauth_clients.endpoints import router as oauth_clients_router
from identity_svc.offers.endpoints import router as offers_router
from identity_svc.oidc.endpoints import router as oidc_router
from identity_svc.oidc.pages import router as oidc_pages_router
from identity_svc.revocations.endpoints import router as revocations_router
from identity_svc.revocations.service import local_source
from identity_svc.runtime import Runtime
from identity_svc.sessions.endpoints import router as sessions_router
from identity_svc.settings import IdentitySettings
from identity_svc.sms.endpoints import router as sms_router
from identity_svc.sms.senders import sms_sender_for
from identity_svc.staff.endpoints import router as staff_router
from identity_svc.tokens.endpoints import router as tokens_router
from identity_svc.verification.endpoints import router as verification_router
from servicekit.app import build_app
from servicekit.auth import JwksSource
from servicekit.state import ServiceState

log = structlog.get_logger("identity_svc")


def create_app(
    settings: IdentitySettings | None = None, *, jwks: JwksSource | None = None
) -> FastAPI:
    """``jwks`` defaults to identity-svc's own key store: it verifies the tokens it issues
    without a round trip through the gateway to itself."""
    settings = settings or IdentitySettings()
    runtime = Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI, kit: ServiceState) -> AsyncIterator[IdentityState]:
        runtime.attach(kit.database.sessionmaker)
        try:
            await runtime.keys.load(now=runtime.now())
        except SQLAlchemyError as exc:
            # Not migrated yet: /readyz tells, and the key is made on first use instead.
            log.warning("signing_key_not_loaded", error_type=type(exc).__name__)
        maintenance = asyncio.create_task(runtime.keys.maintain(), name="signing-key-maintenance")
        # Its own verifier refuses what it publishes: a revoked token sent in a body (the
        # token exchange's actor token) never passes the gateway's check.
        revocations = asyncio.create_task(
            runtime.revocations.follow(
                local_source(kit.database.sessionmaker, kit.cursors, runtime.now),
                every_seconds=settings.revocation_poll_seconds,
            ),
            name="revocation-list",
        )
        try:
            yield IdentityState.over(
                kit, runtime=runtime, sms_sender=sms_sender_for(settings, kit.http)
            )
        finally:
            for task in (maintenance, revocations):
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    return build_app(
        settings,
        title="OneVisit identity-svc",
        routers=[
            accounts_router,
            tokens_router,
            revocations_router,
            verification_router,
            delegations_router,
            enterprises_router,
            oauth_clients_router,
            sessions_router,
            credentials_router,
            sms_router,
            staff_router,
            keys_router,
            inbox_router,
            offers_router,
            oidc_router,
            oidc_pages_router,
        ],
        lifespan=lifespan,
        idempotency_records=IdempotencyRecord,
        jwks=jwks or runtime.keys.jwks_document,
        revocations=runtime.revocations,
    )
