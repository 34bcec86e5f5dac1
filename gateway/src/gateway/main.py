"""The gateway's application: the top-level ASGI callable, its lifespan and ``create_app``.

Run it as ``uvicorn gateway.main:create_app --factory``. The kit's request-context middleware
wraps everything; behind it, the few operations paths go to a small FastAPI app and every other
request goes straight to the proxy, outside any router.
"""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from gateway.openapi import OpenApiAggregator
from gateway.operations import OPERATION_PATHS, operations_app
from gateway.proxy import Proxy
from gateway.routing import RoutingTable, load_routing_table
from gateway.settings import GatewaySettings
from gateway.upstreams import Upstreams
from servicekit.auth import TokenVerifier
from servicekit.observability import RequestContextMiddleware, configure_logging


class Gateway:
    def __init__(self, settings: GatewaySettings, table: RoutingTable) -> None:
        self.settings = settings
        self.table = table
        self.operations = operations_app(lifespan=self._lifespan)
        #: Set while running (between lifespan start and end).
        self.proxy: Proxy | None = None
        self._asgi = RequestContextMiddleware(self._dispatch, service_name=settings.service_name)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Open the upstream clients and the token verifier; close the clients at the end."""
        settings = self.settings
        configure_logging(
            service_name=settings.service_name, level=settings.log_level, json=settings.log_json
        )
        upstreams = Upstreams(self.table, settings)
        keys_from = upstreams[self.table.jwks_service]
        verifier = TokenVerifier(
            keys_from.jwks_source(
                self.table.jwks_path, timeout_seconds=settings.http_timeout_seconds
            ),
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            cache_seconds=settings.jwks_cache_seconds,
            min_refetch_seconds=settings.jwks_min_refetch_seconds,
        )
        state = self.operations.state
        state.settings = settings
        state.upstreams = upstreams
        state.openapi = OpenApiAggregator(
            self.table,
            upstreams,
            cache_seconds=settings.openapi_cache_seconds,
            timeout_seconds=settings.probe_timeout_seconds,
        )
        self.proxy = Proxy(self.table, upstreams, verifier, settings)
        try:
            yield
        finally:
            self.proxy = None
            await upstreams.aclose()

    def _lifespan(self, _app: FastAPI) -> AbstractAsyncContextManager[None]:
        return self.running()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        proxy = self.proxy
        if scope["type"] == "http" and proxy is not None and scope["path"] not in OPERATION_PATHS:
            await proxy(scope, receive, send)
        else:
            await self.operations(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> Gateway:
    settings = settings or GatewaySettings()
    table = load_routing_table(settings.routes_file, upstream_overrides=settings.upstreams)
    return Gateway(settings, table)
