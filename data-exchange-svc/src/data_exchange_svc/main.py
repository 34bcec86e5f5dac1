"""data-exchange-svc's application: lifespan, routers, error handlers — nothing else."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from data_exchange_svc.calls.endpoints import router as calls_router
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.resources.endpoints import router as resources_router
from data_exchange_svc.settings import ExchangeSettings
from servicekit.app import build_app
from servicekit.auth import JwksSource


def create_app(
    settings: ExchangeSettings | None = None, *, jwks: JwksSource | None = None
) -> FastAPI:
    settings = settings or ExchangeSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.identifiers = IdentifierProtector(
            encryption_key=settings.encryption_key_bytes, hash_key=settings.hash_key_bytes
        )
        yield

    return build_app(
        settings,
        title="OneVisit data-exchange-svc",
        routers=[resources_router, calls_router],
        lifespan=lifespan,
        jwks=jwks,
    )
