"""The gateway's signed word on a request: a service believes the client's address and the
request id from the gateway alone; a direct caller is who its connection says it is."""

import io
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from servicekit.app import build_app
from servicekit.context import request_id
from servicekit.forwarding import HEADER, MAX_AGE_SECONDS, ClientAddressDep, Forwarding
from servicekit.http import make_http_client
from servicekit.observability import configure_logging
from servicekit.settings import ServiceSettings, development_key, key_bytes
from servicekit.testing import ServedApp, forwarded_by_gateway

KEY = key_bytes(development_key("forwarded"))
OTHER_KEY = key_bytes(development_key("another platform's forwarded key"))
NOW = 1_764_120_000.0
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def at(moment: float) -> Forwarding:
    return Forwarding(KEY, clock=lambda: moment)


SIGNED = at(NOW).sign(b"203.0.113.7", b"req-1", TRACEPARENT)


def test_a_signed_header_vouches_for_its_address_for_its_request_alone() -> None:
    assert at(NOW).verify(SIGNED, b"req-1", TRACEPARENT) == b"203.0.113.7"
    assert at(NOW).sign(b"", b"req-1", b"").startswith(b";")
    assert at(NOW).verify(at(NOW).sign(b"", b"req-1", b""), b"req-1", None) == b""


@pytest.mark.parametrize(
    ("value", "request_id", "traceparent", "checked_at", "why"),
    [
        (None, b"req-1", TRACEPARENT, NOW, "no header"),
        (b"", b"req-1", TRACEPARENT, NOW, "empty"),
        (SIGNED.replace(b"203.0.113.7", b"198.51.100.1"), b"req-1", TRACEPARENT, NOW, "address"),
        (SIGNED, b"req-2", TRACEPARENT, NOW, "another request id"),
        (SIGNED, b"req-1", TRACEPARENT.replace(b"4bf9", b"0000"), NOW, "another trace"),
        (SIGNED, b"req-1", None, NOW, "trace context dropped"),
        (SIGNED, b"req-1", TRACEPARENT, NOW + MAX_AGE_SECONDS + 1, "stale"),
        (SIGNED, b"req-1", TRACEPARENT, NOW - MAX_AGE_SECONDS - 1, "from the future"),
        (
            Forwarding(OTHER_KEY, clock=lambda: NOW).sign(b"203.0.113.7", b"req-1", TRACEPARENT),
            b"req-1",
            TRACEPARENT,
            NOW,
            "another key",
        ),
        (b"203.0.113.7;" + str(int(NOW)).encode(), b"req-1", TRACEPARENT, NOW, "no tag"),
        (b"203.0.113.7;soon;" + SIGNED.rsplit(b";", 1)[1], b"req-1", TRACEPARENT, NOW, "time"),
        (b"203.0.113.7", b"req-1", TRACEPARENT, NOW, "address alone"),
    ],
)
def test_anything_else_vouches_for_nothing(
    value: bytes | None,
    request_id: bytes,
    traceparent: bytes | None,
    checked_at: float,
    why: str,
) -> None:
    assert at(checked_at).verify(value, request_id, traceparent) is None, why


# Through a service ------------------------------------------------------------------------

SETTINGS = ServiceSettings(service_name="forwarding-test", database_url="sqlite+aiosqlite://")
router = APIRouter()


@router.get("/whoami")
async def whoami(address: ClientAddressDep) -> dict[str, Any]:
    return {"client_address": address, "request_id": request_id.get()}


@pytest.fixture
async def service() -> AsyncIterator[FastAPI]:
    app = build_app(SETTINGS, title="forwarding test", routers=[router])
    async with app.router.lifespan_context(app):
        yield app


async def ask(app: FastAPI, headers: dict[str, str]) -> dict[str, Any]:
    # The peer is a machine of the platform's network: whatever it claims, it is itself.
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.get("/whoami", headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["request_id"] == response.headers["x-request-id"]
    return answer


async def test_the_service_believes_the_address_and_request_id_the_gateway_signed(
    service: FastAPI,
) -> None:
    headers = forwarded_by_gateway(SETTINGS, "203.0.113.7", request_id="gw-1")
    assert await ask(service, headers) == {"client_address": "203.0.113.7", "request_id": "gw-1"}


@pytest.mark.parametrize(
    "headers",
    [
        {"x-forwarded-for": "203.0.113.7", "x-real-ip": "203.0.113.7", "x-request-id": "mine"},
        {
            **forwarded_by_gateway(
                SETTINGS.model_copy(update={"forwarded_key": development_key("guessed")}),
                "203.0.113.7",
                request_id="mine",
            )
        },
        {
            **forwarded_by_gateway(SETTINGS, "203.0.113.7", request_id="gw-1"),
            "x-request-id": "mine",
        },
        {HEADER: "203.0.113.7;1764120000;" + "0" * 32, "x-request-id": "mine"},
    ],
    ids=["forwarded-for", "forged key", "request id swapped", "made-up tag"],
)
async def test_a_direct_caller_is_its_own_address_and_gets_a_request_id_of_the_service(
    service: FastAPI, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(service_name="forwarding-test")
    answer = await ask(service, headers)
    assert answer["client_address"] == "10.1.2.3"
    assert answer["request_id"] != "mine"
    (access,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    # The caller's own id is kept for whoever must find its request, beside the real one.
    assert (access["request_id"], access["client_request_id"]) == (answer["request_id"], "mine")


# A service's own calls ---------------------------------------------------------------------


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.get("/echo")
    async def echo(request: Request) -> dict[str, str | None]:
        return {name: request.headers.get(name) for name in ("x-request-id", "traceparent", HEADER)}

    return app


async def test_a_services_calls_to_the_gateway_are_signed_and_to_anyone_else_not() -> None:
    gateway, elsewhere = ServedApp(echo_app()), ServedApp(echo_app())
    await gateway.start()
    await elsewhere.start()
    forwarding = Forwarding(KEY)
    client = make_http_client(
        gateway.url, timeout_seconds=5, connect_timeout_seconds=2, forwarding=forwarding
    )
    token = request_id.set("svc-req-9")
    try:
        through_gateway = (await client.get("/echo")).json()
        outside = (await client.get(f"{elsewhere.url}/echo")).json()
    finally:
        request_id.reset(token)
        await client.aclose()
        await gateway.stop()
        await elsewhere.stop()
    assert through_gateway["x-request-id"] == "svc-req-9"
    signed = through_gateway[HEADER].encode()
    assert forwarding.verify(signed, b"svc-req-9", b"") == b""  # its own call: no client named
    assert outside == {"x-request-id": "svc-req-9", "traceparent": None, HEADER: None}
