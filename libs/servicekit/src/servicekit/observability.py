"""Logs, request ids, trace context and metrics.

``RequestContextMiddleware`` is pure ASGI so that it costs little on every request: it takes
the ``X-Request-ID`` and continues the W3C ``traceparent`` when the gateway vouches for them
(``servicekit.forwarding``), else makes them (a caller's own id is kept apart, as
``client_request_id``); it establishes the client's address the same way, binds the ids to the
log context (with tracing on, ``servicekit.tracing``, the trace and span ids are those of the
request's OpenTelemetry server span, a child of the trace it continues), records Prometheus
metrics by route template and writes one JSON access-log line (method, route, status, duration:
never the query string, headers or bodies, which may carry personal data).
"""

import bisect
import itertools
import json
import logging
import re
import sys
import time
from collections.abc import Iterator, MutableMapping
from contextvars import Token
from dataclasses import dataclass
from typing import Any, TextIO

import orjson
import structlog
from opentelemetry import context as otel_context
from opentelemetry.trace import Span, Tracer
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit import context
from servicekit.context import current_request_id, outgoing_trace_headers
from servicekit.forwarding import HEADER_BYTES, SCOPE_KEY, Forwarding
from servicekit.problems import internal_error_body
from servicekit.tracing import end_span, random_hex, start_server_span

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

__all__ = [
    "REQUEST_METRICS",
    "RequestContextMiddleware",
    "RequestLog",
    "RequestSpan",
    "configure_logging",
    "current_request_id",
    "outgoing_trace_headers",
]

#: Upper bounds of the request-duration histogram's buckets, in seconds.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Durations:
    """One route's histogram: answers per bucket (the last past every bound) and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.total = 0.0


class _Answered:
    """One (service, method, route, status) series, and its route's histogram."""

    __slots__ = ("count", "durations")

    def __init__(self, durations: _Durations) -> None:
        self.count = 0
        self.durations = durations


class RequestMetrics(Collector):
    """``http_requests_total`` (by service, method, route and status) and
    ``http_request_duration_seconds`` (by service, method and route): plain integers on the
    request path, turned into Prometheus metrics when scraped. prometheus_client's own counter
    and histogram take a lock for each increment, three per request, which was a twentieth of
    the gateway's CPU per proxied request."""

    def __init__(self) -> None:
        self._answered: dict[tuple[str, str, str, int], _Answered] = {}
        self._durations: dict[tuple[str, str, str], _Durations] = {}

    def series(self, service: str, method: str, route: str, status: int) -> _Answered:
        key = (service, method, route, status)
        answered = self._answered.get(key)
        if answered is None:
            durations = self._durations.setdefault((service, method, route), _Durations())
            answered = self._answered.setdefault(key, _Answered(durations))
        return answered

    def collect(self) -> Iterator[Metric]:
        answered = CounterMetricFamily(
            "http_requests", "Requests answered", labels=["service", "method", "route", "status"]
        )
        for (service, method, route, status), series in list(self._answered.items()):
            answered.add_metric([service, method, route, str(status)], series.count)
        yield answered
        durations = HistogramMetricFamily(
            "http_request_duration_seconds",
            "Time to answer a request",
            labels=["service", "method", "route"],
        )
        for (service, method, route), histogram in list(self._durations.items()):
            cumulative = list(itertools.accumulate(histogram.counts))
            buckets = [
                (str(bound), count)
                for bound, count in zip(DURATION_BUCKETS, cumulative, strict=False)
            ]
            buckets.append(("+Inf", cumulative[-1]))
            durations.add_metric([service, method, route], buckets, histogram.total)
        yield durations


REQUEST_METRICS = RequestMetrics()
REGISTRY.register(REQUEST_METRICS)


def _json_line(event: Any, **options: Any) -> str:
    # orjson and a plain write halve what a log line costs: every request writes one.
    return orjson.dumps(event, default=options.get("default")).decode()


class _AccessLine:
    """The access log's line, written directly: the same JSON object structlog would write
    (the request's fields, ``service``, the request and trace ids, ``level``, ``timestamp``,
    ``message``) without its processor chain, which cost more than half of what a line costs.
    Every request writes one; every other line goes through structlog."""

    def __init__(self, service_name: str, stream: TextIO) -> None:
        self.service_name = service_name
        self.stream = stream
        self._second = 0
        self._second_text = ""

    def _timestamp(self) -> str:
        """ISO 8601 in UTC to the microsecond, as structlog writes it; the date and time of
        day are formatted once a second."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((now - second) * 1_000_000):06d}Z"

    def write(self, fields: dict[str, Any]) -> None:
        fields["service"] = self.service_name
        _add_request_context(None, "info", fields)
        fields["level"] = "info"
        fields["timestamp"] = self._timestamp()
        fields["message"] = "request"
        self.stream.write(orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE).decode())
        self.stream.flush()


#: Set by ``configure_logging`` when access lines are JSON and the level lets INFO through.
_access_line: _AccessLine | None = None


def _add_request_context(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """The request's id and trace id, from the kit's context variables (set by the middleware
    for each request): one place holds them for logs, problems and outgoing calls."""
    current = context.request_id.get()
    if current is not None:
        event.setdefault("request_id", current)
    span = context.trace.get()
    if span is not None:
        event.setdefault("trace_id", span[0])
    return event


def configure_logging(*, service_name: str, level: str = "INFO", json: bool = True) -> None:
    global _access_line
    threshold = logging.getLevelName(level.upper())
    _access_line = (
        _AccessLine(service_name, sys.stderr) if json and threshold <= logging.INFO else None
    )
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if json
        else structlog.dev.ConsoleRenderer()
    )

    def add_service(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
        event.setdefault("service", service_name)
        return event

    structlog.configure(
        processors=[
            add_service,
            _add_request_context,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.EventRenamer("message"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.WriteLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


#: Routes the framework serves itself, which carry no route template in the scope.
_FRAMEWORK_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


def _route_template(scope: Scope) -> str:
    """A bounded label: the route's template, never a raw path that could hold an id."""
    path = getattr(scope.get("route"), "path", None)
    if path:
        return str(path)
    return scope["path"] if scope["path"] in _FRAMEWORK_PATHS else "unmatched"


@dataclass(slots=True)
class RequestSpan:
    """One request's ids, set in the kit's context variables until the request ends, and its
    OpenTelemetry server span when tracing is on (whose ids they then are)."""

    request_id: str
    trace_id: str
    span_id: str
    started: float
    tokens: tuple[Token[str | None], Token[tuple[str, str] | None]]
    #: The id a caller not trusted with the request id sent: logged beside it, never as it.
    client_request_id: str | None = None
    #: The server span and the token that made it current; ``None`` when tracing is off.
    server_span: Span | None = None
    attached: Token[otel_context.Context] | None = None
    #: The trace's ``sampled`` flag as this process continues it (``01``, or ``00`` when the
    #: sampler left it out).
    flags: str = "01"

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        """What every answer carries: the request id and this service's trace context."""
        return [
            (b"x-request-id", self.request_id.encode()),
            (b"traceparent", f"00-{self.trace_id}-{self.span_id}-{self.flags}".encode()),
        ]


class RequestLog:
    """A service's record of each request: ids and trace context taken or made at the start,
    with its server span when ``tracer`` is given (tracing on: ``servicekit.tracing``); the
    Prometheus metrics by route template and one JSON access-log line (method, route,
    status, duration: never the query string, headers or bodies, which may carry personal
    data) at the end. ``RequestContextMiddleware`` uses it for ASGI apps; the gateway's own
    HTTP server calls it directly."""

    def __init__(self, service_name: str, *, tracer: Tracer | None = None) -> None:
        self.service_name = service_name
        self.log = structlog.get_logger("access")
        self.tracer = tracer
        self._series: dict[tuple[str, str, int], _Answered] = {}

    def begin(
        self,
        request_id: str | None,
        traceparent: str | None,
        *,
        method: str = "",
        client_request_id: str | None = None,
    ) -> RequestSpan:
        """Take ``request_id`` and ``traceparent`` (given only when their sender is trusted
        with them) when well formed, else make them; they stay the context's until ``end``.
        With tracing on, the server span (a child of ``traceparent``) makes the trace and span
        ids. ``client_request_id``: the id an untrusted caller sent, logged apart when well
        formed."""
        # One read of the random source for every id the request may need.
        fresh = random_hex(80)
        if not (request_id and _REQUEST_ID.match(request_id)):
            request_id = fresh[:32]
        if client_request_id is not None and not _REQUEST_ID.match(client_request_id):
            client_request_id = None
        server_span = attached = None
        flags = "01"
        if self.tracer is None:
            parent = _TRACEPARENT.match(traceparent or "")
            trace_id = parent.group(1) if parent else fresh[32:64]
            span_id = fresh[64:]
        else:
            server_span, attached = start_server_span(self.tracer, method, traceparent)
            ids = server_span.get_span_context()
            trace_id, span_id = f"{ids.trace_id:032x}", f"{ids.span_id:016x}"
            flags = f"{int(ids.trace_flags):02x}"
        tokens = (context.request_id.set(request_id), context.trace.set((trace_id, span_id)))
        return RequestSpan(
            request_id,
            trace_id,
            span_id,
            time.perf_counter(),
            tokens,
            client_request_id,
            server_span,
            attached,
            flags,
        )

    def end(self, span: RequestSpan, method: str, route: str, status: int) -> None:
        elapsed = time.perf_counter() - span.started
        series = self._series.get((method, route, status))
        if series is None:
            # Labels are bounded (route templates, methods, statuses): one lookup each, kept.
            series = REQUEST_METRICS.series(self.service_name, method, route, status)
            self._series[(method, route, status)] = series
        series.count += 1
        durations = series.durations
        durations.counts[bisect.bisect_left(DURATION_BUCKETS, elapsed)] += 1
        durations.total += elapsed
        fields = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
        }
        if span.client_request_id is not None:
            fields["client_request_id"] = span.client_request_id
        if _access_line is not None:
            _access_line.write(fields)
        else:
            self.log.info("request", **fields)
        if span.server_span is not None and span.attached is not None:
            # Named by its route template, as the metrics are: never a path holding an id.
            span.server_span.update_name(f"{method} {route}")
            end_span(span.server_span, status, route)
            otel_context.detach(span.attached)
        context.request_id.reset(span.tokens[0])
        context.trace.reset(span.tokens[1])


class RequestContextMiddleware:
    """Each request's ids, trace context and client address, taken from the gateway's signed
    word (``forwarding``) or made here; its server span (with ``tracer``), metrics and access
    line."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service_name: str,
        forwarding: Forwarding,
        tracer: Tracer | None = None,
    ) -> None:
        self.app = app
        self.requests = RequestLog(service_name, tracer=tracer)
        self.forwarding = forwarding

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = traceparent = signed = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = request_id or value
            elif name == b"traceparent":
                traceparent = traceparent or value
            elif name == HEADER_BYTES:
                signed = signed or value
        vouched = self.forwarding.verify(signed, request_id, traceparent)
        peer = scope.get("client")
        address = str(peer[0]) if peer else None
        if vouched is None:
            span = self.requests.begin(
                None, None, method=scope["method"], client_request_id=_text(request_id)
            )
        else:
            span = self.requests.begin(
                _text(request_id), _text(traceparent), method=scope["method"]
            )
            address = vouched.decode("latin-1") or address
        # For ``servicekit.forwarding.client_address``: the request's own, not a context's.
        scope[SCOPE_KEY] = address
        status = 500
        status_started = False

        async def send_with_context(message: Message) -> None:
            nonlocal status, status_started
            if message["type"] == "http.response.start":
                status = message["status"]
                status_started = True
                message["headers"] = [*message.get("headers", ()), *span.response_headers()]
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        except Exception as exc:
            # Answered here, inside the request's context, so the 500 carries its request id.
            # Only the error's type is logged: its message may hold personal data.
            self.requests.log.error("unexpected_error", error_type=type(exc).__name__)
            if status_started:
                raise
            payload = json.dumps(internal_error_body(scope.get("path"))).encode()
            await send_with_context(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send_with_context({"type": "http.response.body", "body": payload})
        finally:
            self.requests.end(span, scope["method"], _route_template(scope), status)
