"""The gateway's application: ``Gateway.handle`` for proxied requests, the ASGI callable for
the rest, its lifespan and ``create_app``.

Run it as ``python -m gateway`` (``gateway.server``): its HTTP server hands every request but
the few operations paths to ``handle`` as a plain ``Request`` (no ASGI on the hot path), which
takes the request's ids and trace context (from a trusted proxy, or signed by a service calling
through the gateway; anyone else's id is logged as ``client_request_id`` and a new one made:
``gateway.forwarded``), passes the edge (``edge``: request limits, path checks, CORS, security
headers), goes to the proxy, and records the request's metrics and access-log line (the kit's
``RequestLog``: with tracing on, a SERVER span per request, ``servicekit.tracing``). The
operations paths go to a small FastAPI app
through ASGI, behind the same edge and the kit's request-context middleware. As an ASGI app
(any ASGI server, or a test's transport) the gateway turns a proxied request's scope into the
same ``Request``.

Every ``GATEWAY_REVOCATION_POLL_SECONDS`` the gateway asks identity-svc's instances for the
revocation list (``[tokens] revocations_path``: what was recorded since its last answer) and
holds it beside its cache of verified tokens, across reloads; the token check refuses what it
covers with 401 ``token_revoked``. While identity-svc cannot be asked, it keeps what it holds.

The routing table is read again on SIGHUP (``kill -HUP <pid>``) and when its file changes
(looked at every ``GATEWAY_ROUTES_WATCH_SECONDS``): a table that does not load is
logged and the running one kept; one that does gets its own upstream clients, token verifier
and rate-limit buckets, and serves every request that arrives from then on. Requests already in
flight finish on the table they started with, whose clients are closed once the last of them
has answered (or after ``reload_drain_seconds``).
"""

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import structlog
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from gateway.edge import Edge
from gateway.forwarded import TrustedProxies
from gateway.messages import (
    Answer,
    ClientGone,
    Request,
    internal_error_answer,
    problem_answer,
    read_body,
    request_from_scope,
    send_answer,
)
from gateway.openapi import OpenApiAggregator
from gateway.operations import OPERATION_PATHS, operations_app
from gateway.proxy import Proxy
from gateway.ratelimits import SharedTokenBuckets, shared_token_buckets
from gateway.routing import RoutingTable, RoutingTableError, load_routing_table
from gateway.settings import GatewaySettings
from gateway.upstreams import Upstreams
from servicekit.app import tune_garbage_collection
from servicekit.auth import TokenVerifier
from servicekit.forwarding import HEADER_BYTES, Forwarding
from servicekit.observability import (
    RequestContextMiddleware,
    RequestLog,
    RequestSpan,
    configure_logging,
)
from servicekit.problems import DomainError, UpstreamUnavailable
from servicekit.revocations import RevocationList, RevocationPage, page_from_json
from servicekit.tracing import configure_tracing

log = structlog.get_logger("gateway.main")


@dataclass(eq=False)
class _Generation:
    """What one routing table serves with, and how many of its requests are in flight."""

    table: RoutingTable
    upstreams: Upstreams
    proxy: Proxy
    openapi: OpenApiAggregator
    shared_buckets: SharedTokenBuckets | None
    in_flight: int = 0

    def __post_init__(self) -> None:
        self.drained = asyncio.Event()
        self.drained.set()

    async def aclose(self) -> None:
        await self.upstreams.aclose()
        if self.shared_buckets is not None:
            await self.shared_buckets.aclose()


class Gateway:
    def __init__(self, settings: GatewaySettings, table: RoutingTable) -> None:
        self.settings = settings
        self.table = table
        self.operations = operations_app(lifespan=self._lifespan)
        #: What serves requests while running (between lifespan start and end).
        self._current: _Generation | None = None
        self._retiring: set[asyncio.Task[Any]] = set()
        self.edge = Edge(settings)
        #: Tokens ended early, polled from identity-svc: one list across routing-table reloads.
        self.revocations = RevocationList()
        #: Off (no tracer) unless ``OTLP_TRACES_ENDPOINT`` is set: then each request is a SERVER
        #: span and its upstream call a CLIENT span (``servicekit.tracing``).
        self._tracing = configure_tracing(settings)
        self._requests = RequestLog(settings.service_name, tracer=self._tracing.tracer)
        self._trusted_proxies = TrustedProxies(settings.trusted_proxies)
        self._forwarding = Forwarding(settings.forwarded_key_bytes)
        self._operations_asgi = RequestContextMiddleware(
            self.edge.asgi(self.operations),
            service_name=settings.service_name,
            forwarding=self._forwarding,
            tracer=self._tracing.tracer,
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Open the upstream clients and the token verifier, reload the table on SIGHUP; close
        the clients at the end."""
        settings = self.settings
        configure_logging(
            service_name=settings.service_name, level=settings.log_level, json=settings.log_json
        )
        self.operations.state.settings = settings
        self._install(self._generation(self.table))
        loop = asyncio.get_running_loop()
        on_hangup = False
        try:
            loop.add_signal_handler(signal.SIGHUP, self._reload_soon)
            on_hangup = True
        except (NotImplementedError, RuntimeError, ValueError):
            # Not the main thread (tests, embedded servers): reload() remains callable.
            pass
        tune_garbage_collection(settings)
        watcher = None
        if settings.routes_watch_seconds > 0:
            watcher = loop.create_task(self._watch_routes_file(settings.routes_watch_seconds))
        revocations = loop.create_task(
            self.revocations.follow(
                self._revocations_since, every_seconds=settings.revocation_poll_seconds
            )
        )
        try:
            yield
        finally:
            own = [task for task in (watcher, revocations) if task is not None]
            for task in own:
                task.cancel()
            if on_hangup:
                loop.remove_signal_handler(signal.SIGHUP)
            current, self._current = self._current, None
            # Cancelled with no wait before: a retiring table still waiting for its requests
            # closes its clients in full (cancelled while closing, it would leave them open).
            for task in list(self._retiring):
                task.cancel()
            await asyncio.gather(*own, *self._retiring, return_exceptions=True)
            if current is not None:
                await current.aclose()
            # The spans still queued go out before the process ends.
            self._tracing.shutdown()

    def _generation(self, table: RoutingTable) -> _Generation:
        settings = self.settings
        upstreams = Upstreams(table, settings)
        upstreams.start_health_checks()
        keys_from = upstreams[table.jwks_service]
        verifier = TokenVerifier(
            keys_from.jwks_source(table.jwks_path, timeout_seconds=settings.http_timeout_seconds),
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            cache_seconds=settings.jwks_cache_seconds,
            min_refetch_seconds=settings.jwks_min_refetch_seconds,
            revocations=self.revocations,
        )
        shared_buckets = None
        if settings.redis_url and table.rate_limits:
            shared_buckets = shared_token_buckets(
                table.rate_limits,
                settings.redis_url,
                key_prefix=settings.redis_key_prefix,
                timeout_seconds=settings.redis_timeout_seconds,
            )
        return _Generation(
            table=table,
            upstreams=upstreams,
            proxy=Proxy(
                table,
                upstreams,
                verifier,
                settings,
                shared_buckets,
                trusted_proxies=self._trusted_proxies,
                forwarding=self._forwarding,
                tracer=self._tracing.tracer,
            ),
            openapi=OpenApiAggregator(
                table,
                upstreams,
                cache_seconds=settings.openapi_cache_seconds,
                timeout_seconds=settings.probe_timeout_seconds,
            ),
            shared_buckets=shared_buckets,
        )

    async def _revocations_since(self, cursor: str | None) -> RevocationPage:
        """The revocation list's entries since ``cursor``, from the JWKS service's instances
        (as the signing keys come: straight from the upstream, not through the proxy)."""
        generation = self._current
        path = generation.table.revocations_path if generation is not None else None
        if generation is None or path is None:
            return RevocationPage([], None)
        if cursor is not None:
            path = f"{path}?{urlencode({'cursor': cursor})}"
        document = await generation.upstreams[generation.table.jwks_service].fetch_json(
            path, timeout_seconds=self.settings.http_timeout_seconds
        )
        if document is None:
            raise UpstreamUnavailable("the revocation list could not be fetched")
        return page_from_json(document)

    def _install(self, generation: _Generation) -> None:
        self._current = generation
        self.table = generation.table
        state = self.operations.state
        state.upstreams = generation.upstreams
        state.openapi = generation.openapi

    def _reload_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    def _routes_file_version(self) -> tuple[int, int] | None:
        try:
            status = self.settings.routes_file.stat()
        except OSError:
            return None
        return status.st_mtime_ns, status.st_size

    async def _watch_routes_file(self, interval: float) -> None:
        """Reload when the routing table's file changes (its time or size), as SIGHUP does. A
        file caught half written fails to load, is logged, and loads at the next change."""
        seen = self._routes_file_version()
        while True:
            await asyncio.sleep(interval)
            version = self._routes_file_version()
            if version is not None and version != seen:
                seen = version
                log.info("routing_table_file_changed")
                await self.reload()

    async def reload(self) -> bool:
        """Read the routing table again and serve new requests with it; ``False`` (and the
        running table kept) when it does not load."""
        previous = self._current
        if previous is None:
            return False
        try:
            table = load_routing_table(
                self.settings.routes_file,
                upstream_overrides=self.settings.upstreams,
                pool_overrides=self.settings.pools,
            )
        except RoutingTableError as exc:
            log.error("routing_table_not_reloaded", error=str(exc))
            return False
        self._install(self._generation(table))
        log.info("routing_table_reloaded", services=len(table.services))
        task = asyncio.get_running_loop().create_task(self._retire(previous))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        return True

    async def _retire(self, generation: _Generation) -> None:
        """Close a replaced table's clients once its requests in flight have answered."""
        try:
            await asyncio.wait_for(
                generation.drained.wait(), timeout=self.settings.reload_drain_seconds
            )
        except TimeoutError:
            log.warning("routing_table_retired_in_flight", in_flight=generation.in_flight)
        finally:
            await generation.aclose()

    def _lifespan(self, _app: FastAPI) -> AbstractAsyncContextManager[None]:
        return self.running()

    def proxies(self, path: str) -> bool:
        """Whether ``handle`` answers requests to ``path``: every path but the operations'."""
        return path not in OPERATION_PATHS

    async def handle(self, request: Request, respond: Callable[[Answer], None]) -> None:
        """Answer a request for the proxy, whatever happens: a problem for a refusal or a fault,
        a 500 (naming nothing but the request id) for an error. ``respond`` is given the answer
        as soon as it is known; the request's metrics and log line come after, off the
        client's wait."""
        span = self._begin(request)
        status = 500
        try:
            try:
                answer = self.edge.check(request) or await self._proxy(request)
            except DomainError as error:
                answer = problem_answer(error, request.path)
            except Exception as exc:
                # Only the error's type is logged: its message may hold personal data.
                log.error("unexpected_error", error_type=type(exc).__name__)
                answer = internal_error_answer(request.path)
            status = answer.status
            self.edge.add_headers(request, answer.headers)
            answer.headers.extend(span.response_headers())
            respond(answer)
        finally:
            self._requests.end(span, request.method, request.route, status)

    def _begin(self, request: Request) -> RequestSpan:
        """The request's span: its id and trace context kept from a trusted proxy or a caller
        holding the forwarding key (a service), made otherwise, the caller's id logged apart;
        the client a key holder names (``servicekit.context.on_behalf_of``) is the client."""
        request_id = traceparent = signed = None
        for name, value in request.headers:
            if name == b"x-request-id":
                request_id = request_id or value
            elif name == b"traceparent":
                traceparent = traceparent or value
            elif name == HEADER_BYTES:
                signed = signed or value
        vouched = (
            self._forwarding.verify(signed, request_id, traceparent) if signed is not None else None
        )
        if vouched:
            # A platform process serving a browser (the pages) names the browser the gateway
            # vouched for to it: she is the client, for rate limits and for the services.
            request.client = vouched.decode("latin-1")
        if vouched is not None or self._trusted_proxies.trusts(request.client):
            return self._requests.begin(
                _text(request_id), _text(traceparent), method=request.method
            )
        return self._requests.begin(
            None, None, method=request.method, client_request_id=_text(request_id)
        )

    async def _proxy(self, request: Request) -> Answer:
        generation = self._current
        if generation is None:
            raise UpstreamUnavailable("the gateway is not serving yet")
        generation.in_flight += 1
        generation.drained.clear()
        try:
            return await generation.proxy(request)
        finally:
            generation.in_flight -= 1
            if not generation.in_flight:
                generation.drained.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.proxies(scope["path"]):
            await self._operations_asgi(scope, receive, send)
            return
        try:
            body = await read_body(receive, self.settings.max_body_bytes)
        except ClientGone:
            return
        answers: list[Answer] = []
        await self.handle(request_from_scope(scope, body), answers.append)
        await send_answer(send, answers[0])


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def create_app(settings: GatewaySettings | None = None) -> Gateway:
    settings = settings or GatewaySettings()
    table = load_routing_table(
        settings.routes_file,
        upstream_overrides=settings.upstreams,
        pool_overrides=settings.pools,
    )
    return Gateway(settings, table)
