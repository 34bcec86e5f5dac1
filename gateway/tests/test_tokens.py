"""The gateway rejects early: every route but the public ones needs a valid access token,
verified against identity's published keys, which it follows through a key rotation."""

import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/identity/v1/sms-codes"),
        ("POST", "/identity/v1/citizens"),
        ("POST", "/identity/v1/token"),
        ("GET", "/identity/v1/.well-known/jwks.json"),
        ("GET", "/catalog/v1/items?q=%E8%BA%AB%E4%BB%BD%E8%AF%81"),
        ("GET", "/catalog/v1/regions/330302026"),
        ("HEAD", "/catalog/v1/items/330000-ID-LOSS"),
        ("GET", "/exchange/v1/resources"),
    ],
)
async def test_public_routes_need_no_token(
    gateway: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await gateway.request(method, path)
    assert response.status_code == 200, response.text


async def test_a_line_break_in_a_public_path_is_the_services_to_answer(
    gateway: httpx.AsyncClient,
) -> None:
    # Percent-decoded, the segment ends in a line break; the route is public all the same, so
    # the request reaches the service (whose answer this upstream's 404 is), not a 401.
    response = await gateway.get("/catalog/v1/regions/3303%0A/children")
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    ("method", "path", "service"),
    [
        ("GET", "/identity/v1/me", "identity"),
        ("POST", "/identity/v1/me/real-name", "identity"),
        ("POST", "/catalog/v1/items", "catalog"),
        ("POST", "/cases/v1/cases", "case"),
        ("GET", "/cases/v1/cases/330302-20261126-000001", "case"),
        ("POST", "/ratings/v1/ratings", "rating"),
        ("GET", "/exchange/v1/grants/0196f3cb-3f4a-7b5c-8d6e-7f8091021324", "exchange"),
        ("POST", "/exchange/v1/calls", "exchange"),
    ],
)
async def test_every_other_route_is_refused_without_a_token_before_the_service_hears_of_it(
    gateway: httpx.AsyncClient,
    services: dict[str, Any],
    problem: Problem,
    method: str,
    path: str,
    service: str,
) -> None:
    response = await gateway.request(method, path, json={})
    problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    assert services[service].received == []


def _signed_by_a_stranger() -> str:
    return TokenMinter().mint("citizen-1")


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (lambda minter: "Basic Y2l0aXplbjpwYXNzd29yZA==", "unauthenticated"),
        (lambda minter: "Bearer not-a-token", "invalid_token"),
        (lambda minter: f"Bearer {_signed_by_a_stranger()}", "invalid_token"),
        (
            lambda minter: (
                "Bearer "
                + jwt.encode(
                    {"sub": "x"},
                    "a-secret-shared-with-nobody-at-all",
                    algorithm="HS256",
                    headers={"kid": minter.kid},
                )
            ),
            "invalid_token",
        ),
        (
            lambda minter: f"Bearer {minter.mint('citizen-1', issued_at=int(time.time()) - 3600)}",
            "token_expired",
        ),
    ],
    ids=["not-bearer", "malformed", "unknown-key", "hmac-with-a-known-kid", "expired"],
)
async def test_a_token_that_does_not_verify_is_refused(
    gateway: httpx.AsyncClient,
    token_minter: TokenMinter,
    services: dict[str, Any],
    problem: Problem,
    authorization: Callable[[TokenMinter], str],
    code: str,
) -> None:
    response = await gateway.get(
        "/cases/v1/cases", headers={"authorization": authorization(token_minter)}
    )
    problem(response, 401, code)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert services["case"].received == []


async def test_a_token_for_another_audience_is_refused(
    gateway: httpx.AsyncClient, services: dict[str, Any], problem: Problem
) -> None:
    foreign = TokenMinter(audience="another-platform")
    services["identity"].signing_keys.append(foreign)
    response = await gateway.get("/cases/v1/cases", headers=bearer(foreign.mint("citizen-1")))
    problem(response, 401, "invalid_token")


async def test_a_valid_token_passes(
    gateway: httpx.AsyncClient, token_minter: TokenMinter, services: dict[str, Any]
) -> None:
    response = await gateway.get("/cases/v1/cases", headers=bearer(token_minter.mint("citizen-1")))
    assert response.status_code == 200
    assert services["case"].received == ["/cases/v1/cases"]


async def test_a_rotated_signing_key_is_followed_without_a_restart(
    gateway: httpx.AsyncClient,
    token_minter: TokenMinter,
    services: dict[str, Any],
    problem: Problem,
) -> None:
    before = await gateway.get("/cases/v1/cases", headers=bearer(token_minter.mint("citizen-1")))
    assert before.status_code == 200
    rotated = TokenMinter()
    token = rotated.mint("citizen-1")
    problem(await gateway.get("/cases/v1/cases", headers=bearer(token)), 401, "invalid_token")

    services["identity"].signing_keys.append(rotated)

    after = await gateway.get("/cases/v1/cases", headers=bearer(token))
    assert after.status_code == 200, after.text


async def test_identity_unreachable_means_tokens_cannot_be_checked(
    start_gateway: Any, dead_url: str, token_minter: TokenMinter, problem: Problem
) -> None:
    gateway = await start_gateway(upstreams={"identity": dead_url})
    response = await gateway.get("/cases/v1/cases", headers=bearer(token_minter.mint("c-1")))
    body = problem(response, 503, "upstream_unavailable")
    assert dead_url.removeprefix("http://") not in response.text
    assert "127.0.0.1" not in str(body)
