"""Traces of a kit app: a server span per request, continuing the trace the gateway vouched
for, with the database's statements and the app's outgoing calls as client spans under it; and
no tracing at all unless ``OTLP_TRACES_ENDPOINT`` asks for it."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from servicekit.app import build_app
from servicekit.db import SessionDep
from servicekit.http import HttpDep
from servicekit.settings import ServiceSettings
from servicekit.testing import ServedApp, forwarded_by_gateway
from servicekit.tracing import TRACING_OFF, configure_tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"

router = APIRouter()


@router.get("/notes/{note_id}")
async def read_note(note_id: int, session: SessionDep) -> dict[str, int]:
    return {"note_id": await session.scalar(text("SELECT :id"), {"id": note_id}) or 0}


@router.get("/onward")
async def call_onward(http: HttpDep) -> dict[str, str | None]:
    """Calls the platform (here a stand-in for the gateway) and says what it was sent."""
    return dict((await http.get("/seen")).json())


def seen_app() -> FastAPI:
    app = FastAPI()

    @app.get("/seen")
    async def seen(request: Request) -> dict[str, str | None]:
        return {"traceparent": request.headers.get("traceparent")}

    return app


def kit_settings(tmp_path: Path, **changes: object) -> ServiceSettings:
    return ServiceSettings(
        service_name="kit",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}",
        freeze_startup_objects=False,
    ).model_copy(update=changes)


@pytest.fixture
async def gateway_stand_in() -> AsyncIterator[ServedApp]:
    served = ServedApp(seen_app())
    await served.start()
    yield served
    await served.stop()


async def run(app: FastAPI, path: str, headers: dict[str, str]) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            return await client.get(path, headers=headers)


def by_kind(spans: tuple[ReadableSpan, ...], kind: SpanKind) -> list[ReadableSpan]:
    return [span for span in spans if span.kind == kind]


async def test_a_request_is_a_server_span_under_the_gateways_with_its_statements_under_it(
    tmp_path: Path,
) -> None:
    exporter = InMemorySpanExporter()
    settings = kit_settings(tmp_path)
    tracing = configure_tracing(settings, exporter=exporter)
    app = build_app(settings, title="kit", routers=[router], tracing=tracing)
    headers = forwarded_by_gateway(settings, "10.1.2.3", request_id="r-1", traceparent=TRACEPARENT)

    response = await run(app, "/notes/7", headers)  # the app's end shuts tracing down: flushed

    assert response.json() == {"note_id": 7}
    spans = exporter.get_finished_spans()
    [server] = by_kind(spans, SpanKind.SERVER)
    assert server.name == "GET /notes/{note_id}"
    assert server.parent is not None
    assert server.parent.is_remote
    assert (f"{server.context.trace_id:032x}", f"{server.parent.span_id:016x}") == (
        TRACE_ID,
        CALLER_SPAN_ID,
    )
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["http.route"] == "/notes/{note_id}"
    assert server.resource.attributes["service.name"] == "kit"
    statements = by_kind(spans, SpanKind.CLIENT)
    assert statements, "the SELECT is a client span"
    assert all(span.parent is not None for span in statements)
    assert {span.parent.span_id for span in statements if span.parent} == {server.context.span_id}
    # The ids the answer (and the logs) carry are the server span's own.
    assert response.headers["traceparent"] == (f"00-{TRACE_ID}-{server.context.span_id:016x}-01")


async def test_a_callers_traceparent_is_not_believed_unless_the_gateway_signed_it(
    tmp_path: Path,
) -> None:
    exporter = InMemorySpanExporter()
    settings = kit_settings(tmp_path)
    app = build_app(
        settings,
        title="kit",
        routers=[router],
        tracing=configure_tracing(settings, exporter=exporter),
    )

    await run(app, "/notes/1", {"traceparent": TRACEPARENT})

    [server] = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    assert server.parent is None
    assert f"{server.context.trace_id:032x}" != TRACE_ID


async def test_an_outgoing_call_carries_its_own_client_spans_traceparent(
    tmp_path: Path, gateway_stand_in: ServedApp
) -> None:
    exporter = InMemorySpanExporter()
    settings = kit_settings(tmp_path, gateway_url=gateway_stand_in.url)
    app = build_app(
        settings,
        title="kit",
        routers=[router],
        tracing=configure_tracing(settings, exporter=exporter),
    )
    headers = forwarded_by_gateway(settings, "10.1.2.3", request_id="r-2", traceparent=TRACEPARENT)

    sent = (await run(app, "/onward", headers)).json()

    spans = exporter.get_finished_spans()
    [server] = by_kind(spans, SpanKind.SERVER)
    [call] = by_kind(spans, SpanKind.CLIENT)
    assert call.parent is not None
    assert call.parent.span_id == server.context.span_id
    assert sent["traceparent"] == f"00-{TRACE_ID}-{call.context.span_id:016x}-01"


async def test_tracing_is_off_unless_an_endpoint_is_set(tmp_path: Path) -> None:
    settings = kit_settings(tmp_path)
    assert settings.otlp_traces_endpoint == ""
    assert configure_tracing(settings) is TRACING_OFF
    app = build_app(settings, title="kit", routers=[router])
    headers = forwarded_by_gateway(settings, "10.1.2.3", request_id="r-3", traceparent=TRACEPARENT)

    response = await run(app, "/notes/2", headers)

    # The trace is still continued for the logs, by hand, with no span made.
    assert response.headers["traceparent"].startswith(f"00-{TRACE_ID}-")
    on = configure_tracing(kit_settings(tmp_path, otlp_traces_endpoint="http://127.0.0.1:9/v1"))
    assert on.tracer is not None
    assert on.provider is not None
    on.shutdown()


async def test_a_trace_the_caller_left_out_records_nothing_and_goes_on_left_out(
    tmp_path: Path, gateway_stand_in: ServedApp
) -> None:
    exporter = InMemorySpanExporter()
    settings = kit_settings(tmp_path, gateway_url=gateway_stand_in.url)
    app = build_app(
        settings,
        title="kit",
        routers=[router],
        tracing=configure_tracing(settings, exporter=exporter),
    )
    left_out = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-00"
    headers = forwarded_by_gateway(settings, "10.1.2.3", request_id="r-4", traceparent=left_out)

    response = await run(app, "/onward", headers)

    assert exporter.get_finished_spans() == ()
    sent = response.json()["traceparent"]
    assert sent.startswith(f"00-{TRACE_ID}-")
    assert sent.endswith("-00")
    assert sent == response.headers["traceparent"]  # the server span's, the only one
