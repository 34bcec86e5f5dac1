"""``build_app``: every service's FastAPI application, assembled the same way.

The lifespan builds what a service holds for its whole life (database, pooled HTTP client,
token verifier ...) into the kit's ``ServiceState`` (``servicekit.state``); a service's
``lifespan`` hook receives it and yields the service's own state, built over it, which the app
then holds for its life. The app
answers ``/healthz``, ``/readyz`` (checks the database) and ``/metrics``, limits body sizes,
renders every error as problem+json, documents the problems each route can answer
(``servicekit.openapi``), and traces its requests, statements and calls when
``OTLP_TRACES_ENDPOINT`` is set (``servicekit.tracing``).
"""

import datetime as dt
import gc
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.auth import JwksSource, TokenVerifier, http_jwks_source
from servicekit.db import (
    DATABASE_RETRY_AFTER_SECONDS,
    Database,
    DatabaseDep,
    DatabaseUnavailable,
    is_transient_database_error,
)
from servicekit.forwarding import Forwarding
from servicekit.http import gateway_client
from servicekit.idempotency import IdempotencyPolicy, IdempotencyRecordMixin
from servicekit.observability import RequestContextMiddleware, configure_logging
from servicekit.openapi import ServiceApp
from servicekit.pagination import Cursors
from servicekit.problems import (
    PayloadTooLarge,
    install_problem_handlers,
    problem_body,
    problem_response,
)
from servicekit.revocations import RevocationList
from servicekit.security_headers import SecurityHeadersMiddleware
from servicekit.settings import ServiceSettings
from servicekit.state import ServiceState, app_state, install_state
from servicekit.tracing import Tracing, configure_tracing

#: A service's own start-up and shut-down, inside the kit's: it receives the kit's state and
#: yields the service's own (``OwnState.over(kit, ...)``), which the app holds while it runs.
ServiceLifespan = Callable[[FastAPI, ServiceState], AbstractAsyncContextManager[ServiceState]]

log = structlog.get_logger("servicekit.app")


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive``: FastAPI passes HTTP exceptions through its body parsing, so the
    problem handlers render it; the middleware answers itself if nothing else did."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodySizeLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413, whether or not Content-Length is declared."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _too_large(self, scope: Scope, send: Send) -> None:
        body = problem_body(
            status=PayloadTooLarge.status,
            code=PayloadTooLarge.code,
            title=PayloadTooLarge.title,
            detail=f"the limit is {self.max_bytes} bytes",
            instance=scope.get("path"),
        )
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._too_large(scope, send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._too_large(scope, send)


def _example(summary: str, value: dict[str, str]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route whose 200 answer is ``value``."""
    return {200: {"content": {"application/json": {"examples": {summary: {"value": value}}}}}}


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is up", responses=_example("up", {"status": "ok"}))
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="The service can reach its database",
        responses=_example("ready", {"status": "ready", "database": "ok"}),
    )
    async def readyz(database: DatabaseDep, response: Response) -> dict[str, str]:
        try:
            await database.ping()
        except Exception as exc:
            log.warning("not_ready", error_type=type(exc).__name__)
            response.status_code = 503
            return {"status": "unavailable", "database": "unreachable"}
        return {"status": "ready", "database": "ok"}

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _database_error(request: Request, exc: Exception) -> Response:
    """A lost or refused database connection is 503 ``database_unavailable`` with
    ``Retry-After``, so that clients and the gateway retry; any other database error is a
    defect, answered 500 by the request middleware."""
    if not is_transient_database_error(exc):
        raise exc
    log.warning("database_unavailable", error_type=type(exc).__name__)
    return problem_response(
        status=DatabaseUnavailable.status,
        code=DatabaseUnavailable.code,
        title=DatabaseUnavailable.title,
        instance=request.url.path,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def tune_garbage_collection(settings: ServiceSettings) -> None:
    """Once a service has started: its startup objects out of the collector's sight (when
    ``freeze_startup_objects``), and young collections every ``gc_young_threshold``
    allocations."""
    if settings.freeze_startup_objects:
        gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(settings.gc_young_threshold, middle, oldest)


def build_app(
    settings: ServiceSettings,
    *,
    title: str,
    routers: Sequence[APIRouter],
    lifespan: ServiceLifespan | None = None,
    jwks: JwksSource | None = None,
    idempotency_records: type[IdempotencyRecordMixin] | None = None,
    revocations: RevocationList | None = None,
    tracing: Tracing | None = None,
    **fastapi_options: Any,
) -> FastAPI:
    """``idempotency_records``: the service's table of ``Idempotency-Key`` records, for the
    endpoints that take ``IdempotencyDep``; ``revocations``: tokens ended early, which the
    token verifier refuses (the service keeps the list current); ``tracing``: where the spans
    go (by default ``configure_tracing(settings)``: off unless ``OTLP_TRACES_ENDPOINT``), shut
    down, what it holds exported, when the app stops."""
    tracing = tracing or configure_tracing(settings)

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(
            service_name=settings.service_name, level=settings.log_level, json=settings.log_json
        )
        http = gateway_client(settings, tracing.tracer)
        kit = ServiceState(
            settings=settings,
            database=Database(
                settings.database_url,
                plan_cache_mode=settings.database_plan_cache_mode,
                tracer=tracing.tracer,
            ),
            http=http,
            token_verifier=TokenVerifier(
                jwks or http_jwks_source(http, settings.jwks_url),
                issuer=settings.token_issuer,
                audience=settings.token_audience,
                cache_seconds=settings.jwks_cache_seconds,
                revocations=revocations,
            ),
            cursors=Cursors(settings.cursor_key_bytes),
            idempotency=(
                IdempotencyPolicy(
                    model=idempotency_records,
                    ttl=dt.timedelta(seconds=settings.idempotency_ttl_seconds),
                    lock=dt.timedelta(seconds=settings.idempotency_lock_seconds),
                    digest_key=settings.request_digest_key_bytes,
                )
                if idempotency_records is not None
                else None
            ),
        )
        install_state(app, kit)
        try:
            if lifespan is None:
                tune_garbage_collection(settings)
                yield
            else:
                async with lifespan(app, kit) as own:
                    install_state(app, own)
                    tune_garbage_collection(settings)
                    yield
        finally:
            # The client and database the app holds last (a test may have swapped its client).
            held = app_state(app, ServiceState)
            await held.http.aclose()
            await held.database.dispose()
            tracing.shutdown()

    # Sealed columns of this service open and seal with its keyring from now on.
    settings.install_sealing()
    app = ServiceApp(title=title, lifespan=app_lifespan, **fastapi_options)
    install_problem_handlers(app)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(ConnectionError, _database_error)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RequestContextMiddleware,
        service_name=settings.service_name,
        forwarding=Forwarding(settings.forwarded_key_bytes),
        tracer=tracing.tracer,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
