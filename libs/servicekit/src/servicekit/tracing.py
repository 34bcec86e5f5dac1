"""Traces: each process's OpenTelemetry spans, sent by OTLP/HTTP to ``OTLP_TRACES_ENDPOINT``.

``configure_tracing`` gives a process its ``Tracing``: with no endpoint, none at all (no
provider, no processor, no tracer: the request path checks one ``None`` and does what it did
before); with one, a ``TracerProvider`` naming the process (``service.name``,
``service.instance.id``), sampling ``TRACE_SAMPLE_RATIO`` of the traces it starts and following
its caller's decision on the rest, and exporting in batches off the request path.

The spans' ids are the ones the logs carry: the kit's request middleware (``RequestLog``) starts
the server span from the incoming ``traceparent`` it believes and puts the span's own ids in the
kit's context (``servicekit.context.trace``), and the span ids come from the same random source
the kit uses when tracing is off. Client spans: the kit's HTTP client (``servicekit.http``), the
database engine (``servicekit.db``) and the gateway's upstream call.
"""

import os
import re
import socket
from collections.abc import Callable
from contextvars import Token
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import NoOpMeterProvider, UpDownCounter
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    Tracer,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.settings import ServiceSettings

__all__ = [
    "TRACING_OFF",
    "Tracing",
    "configure_tracing",
    "end_span",
    "random_hex",
    "start_client_span",
    "start_server_span",
    "trace_engine",
    "traceparent_of",
]

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


class _RandomHex:
    """Random hex digits from the system's source, read 4 KiB at a time: one read for about a
    hundred requests' ids rather than one per request."""

    def __init__(self) -> None:
        self._digits = ""
        self._at = 0

    def take(self, count: int) -> str:
        if self._at + count > len(self._digits):
            self._digits = os.urandom(4096).hex()
            self._at = 0
        digits = self._digits[self._at : self._at + count]
        self._at += count
        return digits


#: Request ids, and trace and span ids (the kit's own when tracing is off, the SDK's when on).
random_hex = _RandomHex().take


class _KitIds(IdGenerator):
    """The span and trace ids, from the kit's random hex (``random_hex``): one source of ids
    whether tracing is on or off."""

    def generate_span_id(self) -> int:
        return int(random_hex(16), 16) or 1

    def generate_trace_id(self) -> int:
        return int(random_hex(32), 16) or 1


@dataclass(frozen=True, slots=True)
class Tracing:
    """A process's tracer and the provider behind it; both ``None`` when tracing is off."""

    tracer: Tracer | None
    provider: TracerProvider | None

    def shutdown(self) -> None:
        """Export what is still queued and stop: at the end of the process's life."""
        if self.provider is not None:
            self.provider.shutdown()


#: No tracing: what a process without ``OTLP_TRACES_ENDPOINT`` has.
TRACING_OFF = Tracing(None, None)


def configure_tracing(
    settings: ServiceSettings, *, exporter: SpanExporter | None = None
) -> Tracing:
    """The process's tracing: off without ``otlp_traces_endpoint`` (unless a test gives its
    own ``exporter``), else spans batched to that endpoint by OTLP/HTTP."""
    if exporter is None:
        if not settings.otlp_traces_endpoint:
            return TRACING_OFF
        exporter = OTLPSpanExporter(endpoint=settings.otlp_traces_endpoint)
    resource = Resource.create(
        {
            SERVICE_NAME: settings.service_name,
            # Instances of a service share a name; the host and process tell them apart.
            SERVICE_INSTANCE_ID: f"{socket.gethostname()}:{os.getpid()}",
        }
    )
    provider = TracerProvider(
        resource=resource,
        sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)),
        id_generator=_KitIds(),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider.get_tracer("servicekit"), provider)


def _remote_parent(traceparent: str | None) -> otel_context.Context:
    """The context a server span starts in: the caller's span when its ``traceparent`` is well
    formed (the caller is already believed), else an empty one (the span starts a trace)."""
    found = _TRACEPARENT.match(traceparent or "")
    empty = otel_context.Context()
    if found is None:
        return empty
    trace_id, span_id = int(found.group(1), 16), int(found.group(2), 16)
    if not (trace_id and span_id):
        return empty
    parent = SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(found.group(3), 16) & 1)
    )
    return trace.set_span_in_context(NonRecordingSpan(parent), empty)


def start_server_span(
    tracer: Tracer, method: str, traceparent: str | None
) -> tuple[Span, Token[otel_context.Context]]:
    """A request's SERVER span, child of ``traceparent`` (given only when its sender is
    believed), made the current span; and the token ``end_span`` detaches it with."""
    span = tracer.start_span(
        method,
        context=_remote_parent(traceparent),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method},
    )
    return span, otel_context.attach(trace.set_span_in_context(span))


def start_client_span(tracer: Tracer, name: str, method: str) -> Span:
    """A CLIENT span under the current span (the request's), for one outgoing call."""
    return tracer.start_span(name, kind=SpanKind.CLIENT, attributes={"http.request.method": method})


def end_span(span: Span, status: int, route: str | None = None) -> None:
    """Record the answer's status (5xx marks the span failed) and end it."""
    span.set_attribute("http.response.status_code", status)
    if route is not None:
        span.set_attribute("http.route", route)
    if status >= 500:
        span.set_status(StatusCode.ERROR)
    span.end()


def traceparent_of(span: Span) -> str:
    """The W3C ``traceparent`` naming ``span`` as the parent of what it calls."""
    ids = span.get_span_context()
    return f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{int(ids.trace_flags):02x}"


def trace_engine(engine: AsyncEngine, tracer: Tracer) -> None:
    """A CLIENT span for each statement ``engine`` runs, under the current span.

    The instrumentation's ``EngineTracer`` on the engine's synchronous core, as
    ``SQLAlchemyInstrumentor().instrument(engine=...)`` would make it, without what the
    instrumentor does besides: it is one per process (a second engine, the exchange's ledger
    or a test's next app, would go untraced) and it patches ``create_engine`` everywhere.
    """
    # Imported here: only a process that traces pays for loading the instrumentation.
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    # Its signature, which the package does not declare: (tracer, engine, usage gauge).
    engine_tracer: Callable[[Tracer, Engine, UpDownCounter], object] = EngineTracer
    # The connection-usage gauge it keeps goes nowhere: the services' metrics are Prometheus's.
    usage = (
        NoOpMeterProvider()
        .get_meter("servicekit.db")
        .create_up_down_counter("db.client.connections.usage")
    )
    engine_tracer(tracer, engine.sync_engine, usage)
