"""Scopes: what an operation requires of the tokens limited by scope (client tokens, and a
person's token issued to a third-party client), refused as 403 insufficient_scope (RFC 6750)."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, FastAPI

from servicekit.app import build_app
from servicekit.auth import PrincipalDep, ScopeRequirement, requires_scopes
from servicekit.settings import ServiceSettings
from servicekit.testing import TokenMinter, bearer

router = APIRouter()


@router.get("/cases", dependencies=[requires_scopes("cases:read")])
async def read_cases(principal: PrincipalDep) -> dict[str, str]:
    return {"sub": principal.sub}


@router.post("/cases", dependencies=[requires_scopes("cases:read", "cases:write")])
async def write_cases(principal: PrincipalDep) -> dict[str, str]:
    return {"sub": principal.sub}


@router.get("/userinfo", dependencies=[requires_scopes("openid")])
async def userinfo(principal: PrincipalDep) -> dict[str, str]:
    return {"sub": principal.sub}


@router.get("/me")
async def mine(principal: PrincipalDep) -> dict[str, str]:
    return {"sub": principal.sub}


MINTER = TokenMinter()


@pytest_asyncio.fixture(loop_scope="session")
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = ServiceSettings(
        service_name="kit-scopes",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}",
        environment="test",
        var_dir=tmp_path,
        freeze_startup_objects=False,
    )
    application = build_app(settings, title="scopes", routers=[router], jwks=MINTER.jwks)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


TOKENS: dict[str, dict[str, Any]] = {
    # The platform's own app and sign-in grants: no scope, never limited.
    "own_app": {"typ": "citizen", "client_id": "onevisit-app"},
    "signed_in": {"typ": "citizen"},
    "staff": {"typ": "staff", "roles": ("handler",), "dept": "330302-public_security"},
    # A delegate's token carries the items delegated as its scope, but no client: not limited.
    "delegate": {"typ": "citizen", "scope": ("public_security.id_card",), "act": "c-2"},
    "system_reader": {"typ": "department_system", "scope": ("cases:read",)},
    "system_writer": {"typ": "department_system", "scope": ("cases:read", "cases:write")},
    "system_unscoped": {"typ": "department_system", "scope": ("catalog:read",)},
    "service_unscoped": {"typ": "service"},
    # What she allowed a department's portal.
    "portal_citizen": {"typ": "citizen", "client_id": "portal", "scope": ("openid", "profile")},
    "portal_enterprise": {"typ": "enterprise", "client_id": "portal", "scope": ("openid",)},
    "portal_reader": {"typ": "citizen", "client_id": "portal", "scope": ("cases:read",)},
}

OK, REFUSED = 200, 403
# caller → (GET /cases, POST /cases, GET /userinfo, GET /me)
EXPECTED = {
    "own_app": (OK, OK, OK, OK),
    "signed_in": (OK, OK, OK, OK),
    "staff": (OK, OK, OK, OK),
    "delegate": (OK, OK, OK, OK),
    "system_reader": (OK, REFUSED, REFUSED, OK),
    "system_writer": (OK, OK, REFUSED, OK),
    "system_unscoped": (REFUSED, REFUSED, REFUSED, OK),
    "service_unscoped": (REFUSED, REFUSED, REFUSED, OK),
    "portal_citizen": (REFUSED, REFUSED, OK, REFUSED),
    "portal_enterprise": (REFUSED, REFUSED, OK, REFUSED),
    "portal_reader": (OK, REFUSED, REFUSED, REFUSED),
}
CALLS = (("GET", "/cases"), ("POST", "/cases"), ("GET", "/userinfo"), ("GET", "/me"))


@pytest.mark.parametrize("caller", sorted(EXPECTED))
async def test_limited_tokens_hold_what_each_operation_requires_and_others_are_not_limited(
    client: httpx.AsyncClient, caller: str
) -> None:
    token = MINTER.mint("c-1", **TOKENS[caller])
    answered = []
    for method, path in CALLS:
        response = await client.request(method, path, headers=bearer(token))
        answered.append(response.status_code)
        if response.status_code == REFUSED:
            assert response.json()["code"] == "insufficient_scope"
    assert tuple(answered) == EXPECTED[caller]


async def test_a_refusal_names_the_scopes_required_in_the_body_and_the_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    token = MINTER.mint("sys-1", typ="department_system", scope=("cases:read",))
    response = await client.post("/cases", headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "insufficient_scope"
    assert body["required_scopes"] == ["cases:read", "cases:write"]
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="cases:read cases:write"'
    )


async def test_a_third_party_token_on_an_operation_that_declares_no_scope_is_refused_by_default(
    client: httpx.AsyncClient,
) -> None:
    token = MINTER.mint("c-1", client_id="portal", scope=("openid", "profile", "phone"))
    response = await client.get("/me", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["required_scopes"] == []
    assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'


def test_the_document_declares_each_operations_scopes(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    read = paths["/cases"]["get"]
    assert read["security"] == [{"accessToken": ["cases:read"]}]
    assert read["x-required-scopes"] == ["cases:read"]
    assert paths["/cases"]["post"]["x-required-scopes"] == ["cases:read", "cases:write"]
    mine = paths["/me"]["get"]
    assert mine["security"] == [{"accessToken": []}]
    assert "x-required-scopes" not in mine
    for operation in (read, mine):
        forbidden = operation["responses"]["403"]
        assert "insufficient_scope" in forbidden["description"]
        assert "WWW-Authenticate" in forbidden["headers"]


@pytest.mark.parametrize("scopes", [(), ("",), ("cases:read cases:write",)])
def test_a_requirement_names_scopes_one_by_one(scopes: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="scopes"):
        ScopeRequirement(scopes)
