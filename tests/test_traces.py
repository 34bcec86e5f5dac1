"""One trace across real processes: every process exports its spans by OTLP/HTTP to a receiver
this test runs, and a citizen's case submission is one trace from the gateway through case-svc
(and its statements) back through the gateway to catalog-svc, each span the child of the one
that called it; the trace id the answer and case-svc's log line carry is that trace's."""

import gzip
import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanMessage

from onevisit_dev.callers import Person, face_verified_citizen
from onevisit_dev.platform import GATEWAY, SERVICES, WEB, Platform, PlatformConfig, running_platform

#: The demo citizen of the synthetic population (README's walk).
DEMO_PERSON = ("林秀英", "330302195203140248")
LOSS_REPORT = "public_security.id_card_loss_report"
SERVER, CLIENT = SpanMessage.SPAN_KIND_SERVER, SpanMessage.SPAN_KIND_CLIENT


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP traces endpoint: decodes each ``ExportTraceServiceRequest`` it is posted."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ExportHandler)
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"

    def take(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            attributes = {
                kv.key: kv.value.string_value for kv in resource_spans.resource.attributes
            }
            for scope_spans in resource_spans.scope_spans:
                received.extend(
                    ReceivedSpan(
                        attributes["service.name"],
                        span.name,
                        span.kind,
                        span.trace_id.hex(),
                        span.span_id.hex(),
                        span.parent_span_id.hex(),
                    )
                    for span in scope_spans.spans
                )
        with self.lock:
            self.spans.extend(received)

    def of_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self.lock:
            return [span for span in self.spans if span.trace_id == trace_id]


class _ExportHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path != "/v1/traces":
            self.send_error(404)
            return
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        self.server.take(export)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test's output is its assertions


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def traced_platform(
    receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """A platform of this test's own: every process traces to the receiver."""
    config = PlatformConfig.on_free_ports(tmp_path_factory.mktemp("traced-platform"))
    for spec in (*SERVICES, WEB, GATEWAY):
        config.extra_env[f"{spec.env_prefix}OTLP_TRACES_ENDPOINT"] = receiver.endpoint
    # Batches sent every tenth of a second (the SDK's default waits five).
    config.extra_env["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    with running_platform(config) as platform:
        yield platform


def chain_to_root(spans: list[ReceivedSpan], leaf: ReceivedSpan) -> list[tuple[str, int]]:
    """(service, kind) of ``leaf`` and each of its ancestors, up to the trace's root."""
    by_id = {span.span_id: span for span in spans}
    chain = [(leaf.service, leaf.kind)]
    at = leaf
    while at.parent_span_id and at.parent_span_id != "0" * 16:
        at = by_id[at.parent_span_id]
        chain.append((at.service, at.kind))
    return chain


def wait_for_trace(
    receiver: Receiver, trace_id: str, service: str, timeout_seconds: float = 15.0
) -> list[ReceivedSpan]:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        spans = receiver.of_trace(trace_id)
        if any(span.service == service and span.kind == SERVER for span in spans):
            # Spans of the outer calls end after the inner ones: one more batch interval.
            time.sleep(0.5)
            return receiver.of_trace(trace_id)
        time.sleep(0.1)
    raise AssertionError(f"no {service} span of trace {trace_id} arrived in {timeout_seconds} s")


def test_a_case_submission_is_one_trace_from_the_gateway_through_case_svc_to_catalog_svc(
    traced_platform: Platform, receiver: Receiver, face_of: Any
) -> None:
    var_dir: Path = traced_platform.config.var_dir
    with traced_platform.client() as gateway:
        name, id_number = DEMO_PERSON
        person = Person(name, id_number, face_of(id_number))
        _, token = face_verified_citizen(gateway, var_dir, person)
        filed = gateway.post(
            "/cases/v1/cases",
            json={
                "item_code": LOSS_REPORT,
                "form": {
                    "loss_reason": "lost",
                    "loss_date": "2026-11-25",
                    "contact_phone": "13957712345",
                },
            },
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
        )
    assert filed.status_code == 201, filed.text
    trace_id = filed.headers["traceparent"].split("-")[1]

    spans = wait_for_trace(receiver, trace_id, "catalog")

    [root] = [span for span in spans if not span.parent_span_id]
    assert (root.service, root.kind) == ("gateway", SERVER)
    assert root.name.startswith("POST /cases/")
    case_servers = [span for span in spans if span.service == "case" and span.kind == SERVER]
    # Filed without X-Region-Code, case-svc files it once more through the gateway, at the
    # instance of the handling bureau's region: one or two of them, all in this trace.
    assert {span.name for span in case_servers} == {"POST /cases/v1/cases"}
    catalog_servers = [span for span in spans if span.service == "catalog" and span.kind == SERVER]
    assert catalog_servers, "case-svc asked the catalogue, through the gateway"
    for catalog in catalog_servers:
        chain = chain_to_root(spans, catalog)
        assert chain[:5] == [
            ("catalog", SERVER),
            ("gateway", CLIENT),
            ("gateway", SERVER),
            ("case", CLIENT),
            ("case", SERVER),
        ]
        assert chain[-2:] == [("gateway", CLIENT), ("gateway", SERVER)]
        for (service, kind), (parent_service, parent_kind) in itertools.pairwise(chain):
            if kind == CLIENT:  # a call a process makes while serving a request
                assert (parent_service, parent_kind) == (service, SERVER)
            else:  # a request served, called by the gateway or calling through it
                assert parent_kind == CLIENT
                assert "gateway" in (service, parent_service)
    # case-svc's statements are client spans under its server span.
    statements = [
        span
        for span in spans
        if span.service == "case" and span.kind == CLIENT and span.parent_span_id
    ]
    served = {span.span_id for span in case_servers}
    assert any(span.parent_span_id in served for span in statements)

    # The trace id case-svc's access line carries is the trace's: one id, logs and spans.
    lines = traced_platform.log_of("case").read_text(encoding="utf-8").splitlines()
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(
        entry.get("route") == "/cases/v1/cases"
        and entry.get("method") == "POST"
        and entry.get("trace_id") == trace_id
        for entry in logged
    )
