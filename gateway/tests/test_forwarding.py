"""What crosses the gateway and what does not: requests reach the service that serves their
prefix exactly as sent, minus the headers that belong to one hop or that forge an identity."""

import io
import ipaddress
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.forwarded import TrustedProxies
from servicekit.forwarding import HEADER, Forwarding
from servicekit.settings import development_key, key_bytes
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
#: The tests' gateway signs with the platform's development key, as do its services.
FORWARDING = Forwarding(key_bytes(development_key("forwarded")))


def received_headers(echo: dict[str, Any]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in echo["headers"]:
        headers.setdefault(name, []).append(value)
    return headers


@pytest.mark.parametrize(
    ("method", "path", "service"),
    [
        ("GET", "/catalog/v1/items/%E8%BA%AB%E4%BB%BD%E8%AF%81", "catalog"),
        ("POST", "/cases/v1/cases", "case"),
        ("PUT", "/identity/v1/me/phone", "identity"),
        ("PATCH", "/exchange/v1/grants/g-1", "exchange"),
        ("DELETE", "/ratings/v1/ratings/r-1", "rating"),
    ],
)
async def test_method_path_query_and_body_reach_the_service_of_the_prefix_unchanged(
    gateway: httpx.AsyncClient, token_minter: TokenMinter, method: str, path: str, service: str
) -> None:
    body = b"" if method == "GET" else b'{"name": "\xe6\x9e\x97"}\x00\xff'
    query = "q=%E8%BA%AB%E4%BB%BD%E8%AF%81%E4%B8%A2%E4%BA%86&region=330302&x=1&y="
    response = await gateway.request(
        method, f"{path}?{query}", content=body, headers=bearer(token_minter.mint("citizen-1"))
    )
    assert response.status_code == 200, response.text
    echo = response.json()
    assert echo["service"] == service
    assert echo["method"] == method
    assert echo["raw_path"] == path
    assert echo["query"] == query
    assert bytes.fromhex(echo["body"]) == body


@pytest.mark.parametrize(
    ("name", "value", "reaches_the_service"),
    [
        ("x-client-note", "kept", True),
        ("accept-language", "zh-CN", True),
        ("idempotency-key", "k-1", True),
        ("keep-alive", "timeout=5", False),
        ("te", "trailers", False),
        ("proxy-authorization", "Basic c2VjcmV0", False),
        ("x-client-hop", "named in Connection", False),
        ("x-user-id", "someone-else", False),
        ("x-principal-sub", "someone-else", False),
        ("x-principal-roles", "admin", False),
        ("x-identity-loa", "3", False),
    ],
)
async def test_only_end_to_end_headers_reach_the_service(
    gateway: httpx.AsyncClient, name: str, value: str, reaches_the_service: bool
) -> None:
    response = await gateway.get(
        "/catalog/v1/items",
        headers={name: value, "connection": "keep-alive, x-client-hop"},
    )
    assert response.status_code == 200, response.text
    headers = received_headers(response.json())
    assert (headers.get(name) == [value]) is reaches_the_service
    assert "connection" not in headers


async def test_the_token_is_forwarded_unchanged(
    gateway: httpx.AsyncClient, token_minter: TokenMinter
) -> None:
    token = token_minter.mint("citizen-1", loa=3)
    response = await gateway.get("/identity/v1/me", headers=bearer(token))
    assert received_headers(response.json())["authorization"] == [f"Bearer {token}"]


def vouched_for(received: dict[str, list[str]]) -> str | None:
    """The client address the signed header the service received vouches for, checked as the
    service's middleware checks it (the platform's development key)."""
    [signed] = received[HEADER]
    [request_id] = received["x-request-id"]
    [traceparent] = received["traceparent"]
    address = FORWARDING.verify(signed.encode(), request_id.encode(), traceparent.encode())
    return address.decode() if address is not None else None


async def test_the_service_learns_who_asked_from_the_gateway_not_from_the_client(
    gateway: httpx.AsyncClient, services: dict[str, Any]
) -> None:
    # Signed with a key that is not the platform's: the gateway does not believe it.
    forged = Forwarding(b"k" * 32).sign(b"198.51.100.1", b"", b"").decode()
    response = await gateway.get(
        "/catalog/v1/items",
        headers={
            "x-forwarded-for": "203.0.113.9",
            "x-forwarded-host": "forged.example",
            HEADER: forged,
        },
    )
    headers = received_headers(response.json())
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-forwarded-host"] == [gateway.base_url.netloc.decode()]
    assert headers["host"] == [services["catalog"].url.removeprefix("http://")]
    # The caller's copy of the signed header is dropped; the gateway's names the peer.
    assert vouched_for(headers) == "127.0.0.1"


async def test_behind_a_trusted_balancer_the_client_is_the_last_address_it_appended(
    start_gateway: Any,
) -> None:
    gateway = await start_gateway(trusted_proxies=["127.0.0.1"])
    response = await gateway.get(
        "/catalog/v1/items",
        headers={"x-forwarded-for": "10.9.9.9, 203.0.113.9", "x-forwarded-proto": "https"},
    )
    headers = received_headers(response.json())
    assert headers["x-forwarded-for"] == ["10.9.9.9, 203.0.113.9, 127.0.0.1"]
    assert headers["x-forwarded-proto"] == ["https"]
    # 10.9.9.9 is what the client wrote itself: only the balancer's entry is believed.
    assert vouched_for(headers) == "203.0.113.9"


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("203.0.113.9", [], "203.0.113.9"),  # not a proxy: the peer, whatever it says
        ("203.0.113.9", [b"198.51.100.1"], "203.0.113.9"),
        ("10.0.0.2", [], "10.0.0.2"),  # a proxy that names nobody is the client
        ("10.0.0.2", [b"198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", [b"192.0.2.66, 198.51.100.1, 10.0.0.7"], "198.51.100.1"),
        ("10.0.0.2", [b"192.0.2.66, 198.51.100.1", b"10.0.0.7"], "198.51.100.1"),  # two headers
        ("10.0.0.2", [b"10.0.0.9, 10.0.0.7"], "10.0.0.9"),  # proxies all the way
        ("10.0.0.2", [b"198.51.100.1, not-an-address, 10.0.0.7"], "10.0.0.7"),
        ("10.0.0.2", [b"198.51.100.1:4711"], "198.51.100.1"),
        ("10.0.0.2", [b"[2001:db8::1]:443"], "2001:db8::1"),
        ("10.0.0.2", [b"2001:DB8:0::1"], "2001:db8::1"),
        ("10.0.0.2", [b"198.51.100.1:port"], "10.0.0.2"),
        ("::ffff:10.0.0.2", [b"::ffff:198.51.100.1"], "198.51.100.1"),
        ("::ffff:203.0.113.9", [], "203.0.113.9"),
        ("fd00::5", [b"198.51.100.1"], "198.51.100.1"),
        ("fd01::5", [b"198.51.100.1"], "fd01::5"),
    ],
)
def test_the_client_is_the_right_most_address_no_trusted_proxy_wrote(
    peer: str, forwarded_for: list[bytes], client: str
) -> None:
    networks = [ipaddress.ip_network(net) for net in ("10.0.0.0/8", "fd00::/16")]
    assert TrustedProxies(networks).client_of(peer, forwarded_for) == client


async def test_a_trusted_proxys_request_id_and_trace_are_continued(start_gateway: Any) -> None:
    gateway = await start_gateway(trusted_proxies=["127.0.0.0/8"])
    trace_id, client_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = await gateway.get(
        "/catalog/v1/items",
        headers={"x-request-id": "lb-7f3a", "traceparent": f"00-{trace_id}-{client_span}-01"},
    )
    received = received_headers(response.json())
    assert received["x-request-id"] == ["lb-7f3a"]
    [traceparent] = received["traceparent"]
    version, upstream_trace, parent_span, _flags = traceparent.split("-")
    assert (version, upstream_trace) == ("00", trace_id)
    assert parent_span != client_span  # the gateway's own span is the service's parent
    assert response.headers.get_list("x-request-id") == ["lb-7f3a"]
    assert response.headers["traceparent"] == traceparent
    assert vouched_for(received) == "127.0.0.1"


async def test_a_public_callers_request_id_is_logged_beside_the_gateways_and_never_used(
    start_gateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    gateway = await start_gateway()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await gateway.get(
        "/catalog/v1/items",
        headers={"x-request-id": "app-7f3a", "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
    )
    received = received_headers(response.json())
    [request_id] = received["x-request-id"]
    assert request_id != "app-7f3a"
    assert response.headers.get_list("x-request-id") == [request_id]
    assert trace_id not in received["traceparent"][0]
    assert trace_id not in response.headers["traceparent"]
    [access] = [
        line
        for line in map(json.loads, stream.getvalue().splitlines())
        if line.get("message") == "request"
    ]
    assert (access["request_id"], access["client_request_id"]) == (request_id, "app-7f3a")


async def test_a_service_calling_through_the_gateway_keeps_its_request_id(
    gateway: httpx.AsyncClient,
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    signed = FORWARDING.sign(b"", b"svc-req-1", traceparent.encode()).decode()
    response = await gateway.get(
        "/catalog/v1/items",
        headers={"x-request-id": "svc-req-1", "traceparent": traceparent, HEADER: signed},
    )
    received = received_headers(response.json())
    assert received["x-request-id"] == ["svc-req-1"]
    assert "4bf92f3577b34da6a3ce929d0e0e4736" in received["traceparent"][0]
    # The service's own address, as its connection says: it named no client.
    assert vouched_for(received) == "127.0.0.1"


async def test_a_page_server_holding_the_key_names_the_browser_it_serves_as_the_client(
    gateway: httpx.AsyncClient,
) -> None:
    # The pages (web/) call the API for the browser the gateway vouched for to them: that
    # browser is the client the service, the rate limits and the sign-in throttles see.
    signed = FORWARDING.sign(b"198.51.100.7", b"page-req-1", b"").decode()
    response = await gateway.get(
        "/catalog/v1/items",
        headers={"x-request-id": "page-req-1", HEADER: signed, "x-forwarded-for": "10.1.1.1"},
    )
    received = received_headers(response.json())
    assert vouched_for(received) == "198.51.100.7"
    assert received["x-forwarded-for"] == ["198.51.100.7"]
    # Signed for another request, the same header names nobody: a copy cannot be replayed.
    replayed = await gateway.get(
        "/catalog/v1/items", headers={"x-request-id": "page-req-2", HEADER: signed}
    )
    assert vouched_for(received_headers(replayed.json())) == "127.0.0.1"


async def test_a_request_without_an_id_gets_one_the_service_sees_too(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.get("/catalog/v1/items")
    request_id = response.headers["x-request-id"]
    assert received_headers(response.json())["x-request-id"] == [request_id]


async def test_the_answer_comes_back_without_headers_of_the_upstream_hop(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.get("/catalog/v1/items")
    assert response.headers["x-upstream"] == "catalog"
    for hop in ("keep-alive", "connection", "x-upstream-hop", "server"):
        assert hop not in response.headers
    # The gateway's own Date, not the upstream's as well.
    assert len(response.headers.get_list("date")) == 1
    assert response.headers["content-length"] == str(len(response.content))


async def test_a_compressed_answer_passes_through_byte_for_byte(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.get("/catalog/v1/compressed", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json() == {"compressed": True}


async def test_a_head_request_keeps_the_length_of_what_a_get_would_return(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.head("/catalog/v1/items")
    assert response.status_code == 200
    assert int(response.headers["content-length"]) > 0
    assert response.content == b""


@pytest.mark.parametrize("path", ["/nowhere/v1/items", "/catalog/v10/items", "/catalog", "/"])
async def test_a_path_no_service_serves_is_route_not_found(
    gateway: httpx.AsyncClient, problem: Problem, path: str
) -> None:
    body = problem(await gateway.get(path), 404, "route_not_found")
    assert body["instance"] == path


async def test_the_longest_prefix_wins(
    start_gateway: Any,
    routes_with: Callable[..., Path],
    services: dict[str, Any],
) -> None:
    routes = routes_with(
        archive={
            "prefix": "/cases/v1/archive",
            "upstreams": [services["rating"].url],
            "timeout_seconds": 5.0,
            "public": [{"method": "GET", "path": "/cases/v1/archive/**"}],
        },
        case={"public": [{"method": "GET", "path": "/cases/v1/**"}]},
    )
    gateway = await start_gateway(routes_file=routes)
    archived = await gateway.get("/cases/v1/archive/330302-20261126-000001")
    current = await gateway.get("/cases/v1/cases/330302-20261126-000001")
    sibling = await gateway.get("/cases/v1/archived")
    assert archived.json()["service"] == "rating"
    assert current.json()["service"] == "case"
    assert sibling.json()["service"] == "case"
