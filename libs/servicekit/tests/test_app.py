"""The behaviour every service gets from build_app: problems, the request's transaction,
request ids and trace context, health, readiness and metrics."""

import io
import json
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import String, func, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit import context
from servicekit.app import build_app
from servicekit.db import ReadSessionDep, SessionDep, new_metadata
from servicekit.observability import configure_logging
from servicekit.problems import Conflict, extension_members
from servicekit.settings import ServiceSettings
from servicekit.state import ServiceState
from servicekit.testing import forwarded_by_gateway

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


class Base(DeclarativeBase):
    metadata = new_metadata()


class Note(Base):
    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(100))


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=100)
    stars: int = Field(ge=1, le=5)


class NoteRefused(Conflict):
    code = "note_refused"
    title = "The note was refused"
    members = extension_members(note_text_length={"type": "integer", "examples": [20]})


router = APIRouter()


@router.post("/notes", status_code=201)
async def create_note(payload: NoteCreate, session: SessionDep) -> dict[str, int]:
    note = Note(text=payload.text)
    session.add(note)
    await session.flush()
    if payload.text == "refuse after writing":
        raise NoteRefused("written, then refused", note_text_length=len(payload.text))
    return {"id": note.id}


@router.get("/notes/count")
async def count_notes(session: SessionDep) -> dict[str, int]:
    return {"count": await session.scalar(select(func.count()).select_from(Note)) or 0}


@router.get("/notes/count-read")
async def count_notes_read(session: ReadSessionDep) -> dict[str, int]:
    return {"count": await session.scalar(select(func.count()).select_from(Note)) or 0}


@router.post("/notes/outside-transaction", status_code=201)
async def write_outside_transaction(session: ReadSessionDep) -> None:
    await session.execute(insert(Note).values(text="no transaction to undo it"))
    raise NoteRefused("written, then refused")


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret personal data 330302195203140248")


KIT_SETTINGS = ServiceSettings(service_name="kit-test", max_body_bytes=1000)


def from_gateway(**ids: str) -> dict[str, str]:
    """As the gateway forwards a request (its request id and trace context signed)."""
    return forwarded_by_gateway(KIT_SETTINGS, "203.0.113.7", **ids)


@pytest.fixture
async def kit_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = KIT_SETTINGS.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}"}
    )

    @asynccontextmanager
    async def create_tables(app: FastAPI, kit: ServiceState) -> AsyncIterator[ServiceState]:
        async with kit.database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield kit

    app = build_app(settings, title="kit test", routers=[router], lifespan=create_tables)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_the_request_commits_on_success_and_rolls_back_on_a_domain_error(
    kit_client: httpx.AsyncClient, problem: Problem
) -> None:
    assert (await kit_client.post("/notes", json={"text": "kept", "stars": 3})).status_code == 201
    refused = await kit_client.post("/notes", json={"text": "refuse after writing", "stars": 3})
    body = problem(refused, 409, "note_refused")
    assert body["detail"] == "written, then refused"
    assert body["note_text_length"] == len("refuse after writing")
    assert body["instance"] == "/notes"
    assert (await kit_client.get("/notes/count")).json() == {"count": 1}


async def test_a_read_session_reads_outside_any_transaction(
    kit_client: httpx.AsyncClient, problem: Problem
) -> None:
    assert (await kit_client.post("/notes", json={"text": "kept", "stars": 3})).status_code == 201
    assert (await kit_client.get("/notes/count-read")).json() == {"count": 1}

    # No transaction: what a statement writes stands at once, a failure after it undoes nothing
    # (which is why the dependency is for reads).
    problem(await kit_client.post("/notes/outside-transaction"), 409, "note_refused")

    assert (await kit_client.get("/notes/count-read")).json() == {"count": 2}
    # The pooled connection goes back as it came: a SessionDep request rolls back again.
    problem(
        await kit_client.post("/notes", json={"text": "refuse after writing", "stars": 3}),
        409,
        "note_refused",
    )
    assert (await kit_client.get("/notes/count")).json() == {"count": 2}


async def test_validation_errors_name_every_field_and_echo_no_value(
    kit_client: httpx.AsyncClient, problem: Problem
) -> None:
    response = await kit_client.post("/notes", json={"text": "", "stars": 9})
    body = problem(response, 422, "validation_failed")
    assert {error["field"] for error in body["errors"]} == {"body.text", "body.stars"}
    assert "input" not in str(body["errors"])


async def test_a_body_that_cannot_be_read_is_a_malformed_body_problem(
    kit_client: httpx.AsyncClient, problem: Problem
) -> None:
    # JSON that does not decode is a validation error of the body; bytes that are not even
    # UTF-8 cannot be read as JSON at all.
    response = await kit_client.post(
        "/notes", content=b'{"text": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    problem(response, 400, "malformed_body")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "not_found"),
        ("DELETE", "/notes/count", 405, "method_not_allowed"),
    ],
)
async def test_routing_failures_are_problems(
    kit_client: httpx.AsyncClient, problem: Problem, method: str, path: str, status: int, code: str
) -> None:
    problem(await kit_client.request(method, path), status, code)


async def test_an_unexpected_error_is_a_500_with_the_request_id_and_nothing_else(
    kit_client: httpx.AsyncClient, problem: Problem
) -> None:
    response = await kit_client.get("/boom", headers=from_gateway(request_id="req-boom-1"))
    body = problem(response, 500, "internal_error")
    assert body["request_id"] == "req-boom-1"
    assert "330302195203140248" not in response.text
    assert "Traceback" not in response.text


async def test_bodies_over_the_limit_are_refused_declared_or_streamed(
    kit_client: httpx.AsyncClient, problem: Problem
) -> None:
    big = {"text": "x" * 2000, "stars": 1}
    problem(await kit_client.post("/notes", json=big), 413, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 100

    streamed = await kit_client.post(
        "/notes", content=chunks(), headers={"content-type": "application/json"}
    )
    problem(streamed, 413, "payload_too_large")
    assert (await kit_client.get("/notes/count")).json() == {"count": 0}


async def test_request_ids_and_trace_context_are_kept_from_the_gateway_or_made(
    kit_client: httpx.AsyncClient,
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    response = await kit_client.get(
        "/healthz", headers=from_gateway(request_id="abc-123", traceparent=traceparent)
    )
    assert response.headers["x-request-id"] == "abc-123"
    version, continued_trace, span, _flags = response.headers["traceparent"].split("-")
    assert (version, continued_trace) == ("00", trace_id)
    assert span != "00f067aa0ba902b7"

    malformed = from_gateway(request_id="bad id with spaces")
    fresh = await kit_client.get("/healthz", headers=malformed)
    assert fresh.headers["x-request-id"] != "bad id with spaces"
    assert len(fresh.headers["x-request-id"]) == 32


async def test_health_readiness_and_metrics(kit_client: httpx.AsyncClient) -> None:
    assert (await kit_client.get("/healthz")).json() == {"status": "ok"}
    assert (await kit_client.get("/readyz")).json() == {"status": "ready", "database": "ok"}
    metrics = (await kit_client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/healthz",service="kit-test",status="200"}' in (
        metrics
    )


async def test_request_metrics_count_each_answer_and_its_duration(
    kit_client: httpx.AsyncClient,
) -> None:
    def scraped(text: str, series: str) -> float:
        (line,) = [line for line in text.splitlines() if line.startswith(series + " ")]
        return float(line.rsplit(" ", 1)[1])

    labels = 'method="GET",route="/healthz",service="kit-test"'
    answered = f'http_requests_total{{{labels},status="200"}}'
    count = f"http_request_duration_seconds_count{{{labels}}}"
    slowest = f'http_request_duration_seconds_bucket{{le="+Inf",{labels}}}'
    before = (await kit_client.get("/metrics")).text
    for _ in range(3):
        await kit_client.get("/healthz")
    after = (await kit_client.get("/metrics")).text
    assert scraped(after, answered) - scraped(before, answered) == 3
    assert scraped(after, count) - scraped(before, count) == 3
    assert scraped(after, slowest) == scraped(after, count)
    buckets = [
        scraped(after, f'http_request_duration_seconds_bucket{{le="{bound}",{labels}}}')
        for bound in ("0.001", "0.01", "0.1", "1.0", "10.0")
    ]
    assert buckets == sorted(buckets)  # cumulative
    assert scraped(after, f"http_request_duration_seconds_sum{{{labels}}}") > 0


async def test_the_access_line_is_the_line_structlog_would_write(
    kit_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(service_name="kit-test")
    await kit_client.get("/notes/count", headers=from_gateway(request_id="access-line-test"))
    (access,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert access["request_id"] == "access-line-test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", access["timestamp"])

    request_token = context.request_id.set("access-line-test")
    trace_token = context.trace.set((access["trace_id"], "0" * 16))
    try:
        structlog.get_logger("comparison").info(
            "request",
            method="GET",
            route="/notes/count",
            status=200,
            duration_ms=access["duration_ms"],
        )
    finally:
        context.request_id.reset(request_token)
        context.trace.reset(trace_token)
    rendered = json.loads(stream.getvalue().splitlines()[-1])
    assert {**access, "timestamp": None} == {**rendered, "timestamp": None}


@pytest.mark.parametrize(("level", "as_json"), [("WARNING", True), ("INFO", False)])
async def test_no_json_access_line_above_info_or_on_the_console(
    kit_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, level: str, as_json: bool
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(service_name="kit-test", level=level, json=as_json)
    await kit_client.get("/notes/count")
    lines = stream.getvalue().splitlines()
    if level == "WARNING":
        assert lines == []
    else:
        (line,) = lines
        assert "request" in line
        assert not line.startswith("{")
