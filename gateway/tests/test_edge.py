"""The edge: token types per route, request limits, strict paths and queries, security headers
and CORS. Every refusal is a problem and reaches no service."""

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from servicekit.auth import PrincipalType
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

APP_ORIGIN = "https://app.onevisit.test"
#: Every scope a client may be granted: the token types alone decide.
EVERY_SCOPE = (
    "cases:read",
    "cases:write",
    "exchange:calls",
    "exchange:matches",
    "exchange:loads",
    "exchange:grants",
    "catalog:read",
    "events:deliver",
)


@pytest.mark.parametrize(
    ("typ", "method", "path", "admitted"),
    [
        ("citizen", "POST", "/ratings/v1/ratings", True),
        ("department_system", "POST", "/ratings/v1/ratings", False),  # the service's list
        ("service", "POST", "/exchange/v1/matches", True),
        ("citizen", "POST", "/exchange/v1/matches", False),  # a route's own list
        ("citizen", "POST", "/exchange/v1/calls", False),
        ("department_system", "GET", "/exchange/v1/grants/g-1", True),
        ("citizen", "GET", "/exchange/v1/me/access-log", True),
        ("department_system", "GET", "/exchange/v1/me/access-log", False),
        ("staff", "DELETE", "/exchange/v1/me/consents/c-1", False),
        ("citizen", "GET", "/exchange/v1/ledger/checkpoints/latest", True),  # no list: any type
        ("department_system", "GET", "/cases/v1/cases/330302-20261126-000001", True),
    ],
)
async def test_the_shipped_table_admits_token_types_only_where_they_belong(
    gateway: httpx.AsyncClient,
    services: dict[str, Any],
    token_minter: TokenMinter,
    problem: Problem,
    typ: PrincipalType,
    method: str,
    path: str,
    admitted: bool,
) -> None:
    token = token_minter.mint(
        "subject-1", typ=typ, dept="330302-public_security", scope=EVERY_SCOPE
    )
    response = await gateway.request(method, path, headers=bearer(token))
    if admitted:
        assert response.status_code == 200, response.text
    else:
        problem(response, 403, "token_type_not_allowed")
        assert all(not fake.received for fake in services.values())


CASE = "/cases/v1/cases/330302-20261126-000001"


@pytest.mark.parametrize(
    ("token", "method", "path", "admitted"),
    [
        # A client's token holds what its client was granted, on the routes that declare scopes.
        ({"typ": "department_system", "scope": ("cases:read",)}, "GET", CASE, True),
        ({"typ": "department_system", "scope": ("catalog:read",)}, "GET", CASE, False),
        ({"typ": "department_system", "scope": ("cases:read",)}, "POST", CASE + "/claim", False),
        ({"typ": "service", "scope": ("exchange:calls",)}, "POST", "/exchange/v1/calls", True),
        ({"typ": "service"}, "POST", "/exchange/v1/calls", False),
        # ... and passes as before where none is declared.
        ({"typ": "department_system"}, "GET", "/exchange/v1/subscriptions", True),
        # Tokens not limited by scope: the platform's own app, staff.
        ({"typ": "citizen", "client_id": "onevisit-app"}, "GET", CASE, True),
        ({"typ": "staff", "roles": ("handler",)}, "GET", CASE, True),
        # A portal's token for a citizen: what she allowed it, and nothing undeclared.
        ({"typ": "citizen", "client_id": "portal", "scope": ("cases:read",)}, "GET", CASE, True),
        ({"typ": "citizen", "client_id": "portal", "scope": ("openid",)}, "GET", CASE, False),
        (
            {"typ": "citizen", "client_id": "portal", "scope": ("openid", "profile")},
            "GET",
            "/identity/v1/me",
            False,
        ),
        # Public routes need no token, whoever sends one.
        (
            {"typ": "citizen", "client_id": "portal", "scope": ("openid",)},
            "GET",
            "/catalog/v1/items",
            True,
        ),
    ],
)
async def test_the_shipped_table_refuses_tokens_without_the_scopes_a_route_requires(
    gateway: httpx.AsyncClient,
    services: dict[str, Any],
    token_minter: TokenMinter,
    problem: Problem,
    token: dict[str, Any],
    method: str,
    path: str,
    admitted: bool,
) -> None:
    minted = token_minter.mint("subject-1", dept="330302-public_security", **token)
    response = await gateway.request(method, path, headers=bearer(minted))
    if admitted:
        assert response.status_code == 200, response.text
    else:
        body = problem(response, 403, "insufficient_scope")
        assert all(not fake.received for fake in services.values())
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer error="insufficient_scope"')
        if body["required_scopes"]:
            assert challenge.endswith(f'scope="{" ".join(body["required_scopes"])}"')


async def test_a_scope_route_in_a_routes_file_is_checked_at_load(
    routes_with: Callable[..., Path],
) -> None:
    from gateway.routing import RoutingTableError, load_routing_table

    for scopes in ([], ["cases read"], ['cases"read']):
        with pytest.raises(RoutingTableError, match="scopes"):
            load_routing_table(
                routes_with(
                    case={
                        "scope_routes": [{"method": "GET", "path": "/cases/v1/x", "scopes": scopes}]
                    }
                )
            )
    with pytest.raises(RoutingTableError, match="outside"):
        load_routing_table(
            routes_with(
                rating={
                    "scope_routes": [{"method": "GET", "path": "/cases/v1/x", "scopes": ["a:b"]}]
                }
            )
        )


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("/catalog/v1/items/../../identity/v1/me", "invalid_path"),
        ("/catalog/v1/./items", "invalid_path"),
        ("/catalog/v1/items/%2e%2e/x", "invalid_path"),
        ("/catalog/v1/items/%2E/x", "invalid_path"),
        ("/catalog/v1/items/a%2Fb", "invalid_path"),
        ("/catalog/v1/items/a%2fb", "invalid_path"),
        ("/catalog/v1/items/a%5Cb", "invalid_path"),
        ("/catalog/v1/items/a%00b", "invalid_path"),
        ("/catalog/v1/items?q=a&q=b", "ambiguous_query"),
        ("/catalog/v1/items?q=a&%71=b", "ambiguous_query"),  # the same name, encoded
        ("/catalog/v1/items?q+x=a&q%20x=b", "ambiguous_query"),
    ],
)
async def test_paths_and_queries_a_service_could_read_otherwise_are_refused(
    gateway: httpx.AsyncClient, services: dict[str, Any], target: str, code: str
) -> None:
    status, body = await _raw_get(gateway, target)
    assert (status, body["code"]) == (400, code)
    assert all(not fake.received for fake in services.values())


async def _raw_get(gateway: httpx.AsyncClient, target: str) -> tuple[int, dict[str, Any]]:
    """GET ``target`` exactly as written (an HTTP client would remove its dot segments)."""
    url = gateway.base_url
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    answer = await asyncio.wait_for(reader.read(-1), timeout=5)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


async def test_parameters_a_service_takes_lists_by_may_repeat(
    gateway: httpx.AsyncClient, token_minter: TokenMinter
) -> None:
    response = await gateway.get(
        "/cases/v1/cases/330302-20261126-000001?status=submitted&status=accepted",
        headers=bearer(token_minter.mint("citizen-1")),
    )
    assert response.status_code == 200, response.text
    assert response.json()["query"] == "status=submitted&status=accepted"


async def test_oversized_headers_and_targets_are_refused(
    start_gateway: Any, services: dict[str, Any], problem: Problem
) -> None:
    gateway = await start_gateway(max_header_bytes=2048, max_uri_bytes=512)
    problem(
        await gateway.get("/catalog/v1/items", headers={"x-padding": "a" * 2048}),
        431,
        "request_header_fields_too_large",
    )
    problem(await gateway.get("/catalog/v1/items/" + "a" * 500), 414, "uri_too_long")
    problem(await gateway.get("/catalog/v1/items?q=" + "a" * 500), 414, "uri_too_long")
    assert (await gateway.get("/catalog/v1/items?q=" + "a" * 400)).status_code == 200
    assert services["catalog"].received == ["/catalog/v1/items"]


@pytest.mark.parametrize(
    "path", ["/catalog/v1/items", "/cases/v1/cases", "/nowhere", "/healthz", "/docs"]
)
async def test_every_answer_carries_the_security_headers(
    gateway: httpx.AsyncClient, path: str
) -> None:
    response = await gateway.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    if path == "/docs":
        assert "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net" in policy
    else:
        assert policy == "default-src 'none'; frame-ancestors 'none'"
    assert "strict-transport-security" not in response.headers  # not configured


async def test_strict_transport_security_is_sent_when_configured(start_gateway: Any) -> None:
    gateway = await start_gateway(hsts_max_age_seconds=31_536_000)
    response = await gateway.get("/catalog/v1/items")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_a_preflight_from_the_apps_origin_is_answered_by_the_gateway(
    start_gateway: Any, services: dict[str, Any], problem: Problem
) -> None:
    gateway = await start_gateway(cors_origins=[APP_ORIGIN])
    preflight = await gateway.options(
        "/cases/v1/cases",
        headers={
            "origin": APP_ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, idempotency-key",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in preflight.headers
    refused = await gateway.options(
        "/cases/v1/cases",
        headers={"origin": "https://elsewhere.test", "access-control-request-method": "POST"},
    )
    problem(refused, 403, "origin_not_allowed")
    assert "access-control-allow-origin" not in refused.headers
    assert all(not fake.received for fake in services.values())


@pytest.mark.parametrize(("origin", "allowed"), [(APP_ORIGIN, True), ("https://x.test", False)])
async def test_answers_name_the_origin_only_when_it_is_allowed(
    start_gateway: Any, origin: str, allowed: bool
) -> None:
    gateway = await start_gateway(cors_origins=[APP_ORIGIN])
    response = await gateway.get("/catalog/v1/items", headers={"origin": origin})
    assert response.status_code == 200
    if allowed:
        assert response.headers["access-control-allow-origin"] == origin
        assert "x-request-id" in response.headers["access-control-expose-headers"]
        assert response.headers["vary"] == "Origin"
    else:
        assert "access-control-allow-origin" not in response.headers


async def test_a_token_type_list_in_a_routes_file_is_checked_at_load(
    routes_with: Callable[..., Path],
) -> None:
    from gateway.routing import RoutingTableError, load_routing_table

    with pytest.raises(RoutingTableError, match="token_types"):
        load_routing_table(routes_with(rating={"token_types": ["robot"]}))
    with pytest.raises(RoutingTableError, match="outside"):
        load_routing_table(
            routes_with(
                rating={
                    "token_type_routes": [
                        {"method": "GET", "path": "/cases/v1/x", "token_types": ["staff"]}
                    ]
                }
            )
        )
