"""Upstream faults come back as problems that name the service, never its address; requests
that are safe to repeat are tried again on another instance when nothing took the connection
(the whole retry policy: ``test_resilience``)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


def _reveals_no_address(response: httpx.Response, *urls: str) -> None:
    for url in urls:
        host_and_port = url.removeprefix("http://")
        assert host_and_port not in response.text
        assert host_and_port.split(":")[1] not in response.text
    assert "127.0.0.1" not in response.text


async def test_an_upstream_that_refuses_connections_is_unavailable_for_a_while(
    start_gateway: Any, dead_url: str, problem: Problem
) -> None:
    gateway = await start_gateway(upstreams={"catalog": dead_url}, retry_after_seconds=7)
    response = await gateway.get("/catalog/v1/items")
    body = problem(response, 503, "upstream_unavailable")
    assert response.headers["retry-after"] == "7"
    assert body["service"] == "catalog"
    _reveals_no_address(response, dead_url)


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("GET", {}, 200),
        ("HEAD", {}, 200),
        ("POST", {"idempotency-key": "8b0d6c1e"}, 200),
        ("POST", {}, 503),
        ("DELETE", {}, 503),
    ],
)
async def test_a_refused_connection_is_retried_once_on_the_next_instance_only_when_safe(
    start_gateway: Any,
    routes_with: Callable[..., Path],
    dead_url: str,
    services: dict[str, Any],
    token_minter: TokenMinter,
    method: str,
    headers: dict[str, str],
    status: int,
) -> None:
    # The first instance in turn refuses connections; the second serves.
    routes = routes_with(case={"upstreams": [dead_url, services["case"].url]})
    gateway = await start_gateway(routes_file=routes, from_file=("case",))
    response = await gateway.request(
        method, "/cases/v1/cases", headers={**headers, **bearer(token_minter.mint("c-1"))}
    )
    assert response.status_code == status
    assert len(services["case"].received) == (1 if status == 200 else 0)


async def test_the_instances_of_a_service_take_turns(
    start_gateway: Any,
    routes_with: Callable[..., Path],
    services: dict[str, Any],
    token_minter: TokenMinter,
) -> None:
    routes = routes_with(case={"upstreams": [services["case"].url, services["rating"].url]})
    gateway = await start_gateway(routes_file=routes, from_file=("case",))
    token = bearer(token_minter.mint("c-1"))
    answered_by = [
        (await gateway.get("/cases/v1/cases", headers=token)).json()["service"] for _ in range(4)
    ]
    assert answered_by == ["case", "rating", "case", "rating"]


async def test_an_upstream_too_slow_to_answer_is_a_timeout(
    start_gateway: Any, routes_with: Callable[..., Path], problem: Problem, services: dict[str, Any]
) -> None:
    routes = routes_with(catalog={"timeout_seconds": 0.2})
    gateway = await start_gateway(routes_file=routes)
    response = await gateway.get("/catalog/v1/slow")
    body = problem(response, 504, "upstream_timeout")
    assert body["service"] == "catalog"
    assert services["catalog"].received == ["/catalog/v1/slow"]  # sent once, not retried
    _reveals_no_address(response, services["catalog"].url)


async def test_an_answer_that_is_not_http_is_a_bad_gateway(
    start_gateway: Any, babbling_url: str, problem: Problem
) -> None:
    gateway = await start_gateway(upstreams={"catalog": babbling_url})
    response = await gateway.get("/catalog/v1/items")
    body = problem(response, 502, "bad_gateway")
    assert body["service"] == "catalog"
    _reveals_no_address(response, babbling_url)


async def _chunks(size: int) -> Any:
    for _ in range(size // 256):
        yield b"x" * 256


@pytest.mark.parametrize(
    ("content", "declared"),
    [
        (lambda: b"x" * 2048, True),
        (lambda: _chunks(2048), False),
    ],
    ids=["declared-length", "streamed"],
)
async def test_a_body_over_the_limit_is_refused_before_reaching_the_service(
    start_gateway: Any,
    services: dict[str, Any],
    problem: Problem,
    content: Callable[[], Any],
    declared: bool,
) -> None:
    gateway = await start_gateway(max_body_bytes=1024)
    response = await gateway.post("/identity/v1/citizens", content=content())
    assert ("content-length" in response.request.headers) is declared
    problem(response, 413, "payload_too_large")
    assert services["identity"].received == []


async def test_a_body_at_the_limit_passes(start_gateway: Any) -> None:
    gateway = await start_gateway(max_body_bytes=1024)
    response = await gateway.post("/identity/v1/citizens", content=b"x" * 1024)
    assert response.status_code == 200
    assert len(bytes.fromhex(response.json()["body"])) == 1024
