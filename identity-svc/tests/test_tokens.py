"""The token endpoint: the password grant, refresh-token rotation and reuse detection, answers
that do not reveal which phones are registered, and client credentials (login throttling:
``test_login_throttling``)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from identity_svc.seed import seed
from identity_svc.settings import IdentitySettings
from servicekit.testing import TokenMinter, bearer

if TYPE_CHECKING:
    from conftest import Journey, MovableClock

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


async def test_the_password_grant_gives_a_bearer_token_that_verifies_with_the_published_key(
    client: httpx.AsyncClient, journey: Journey, identity_settings: IdentitySettings
) -> None:
    phone = await journey.register()
    response = await journey.login(phone)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == identity_settings.access_token_ttl_seconds == 600
    assert body["refresh_token"]
    claims = await journey.claims(body["access_token"])
    me = (await client.get("/identity/v1/me", headers=bearer(body["access_token"]))).json()
    assert claims["sub"] == me["id"]
    assert claims["typ"] == "citizen"
    assert claims["loa"] == 1
    assert "region" not in claims
    assert claims["exp"] - claims["iat"] == 600
    assert claims["jti"]


async def test_a_wrong_password_and_an_unknown_phone_get_the_same_answer(
    journey: Journey, problem: Problem
) -> None:
    phone = await journey.register()
    wrong_password = problem(await journey.login(phone, "not-the-password"), 400, "invalid_grant")
    unknown_phone = problem(await journey.login("13999999999"), 400, "invalid_grant")
    for body in (wrong_password, unknown_phone):
        assert body["error"] == "invalid_grant"
        del body["request_id"]
    assert wrong_password == unknown_phone


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "password", "username": "13800000000"}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"grant_type": "implicit"}, "unsupported_grant_type"),
    ],
)
async def test_a_malformed_token_request_is_refused_with_the_oauth_error(
    client: httpx.AsyncClient, problem: Problem, form: dict[str, str], code: str
) -> None:
    body = problem(await client.post("/identity/v1/token", data=form), 400, code)
    assert body["error"] == code


async def test_a_refresh_rotates_the_refresh_token(
    client: httpx.AsyncClient, journey: Journey, problem: Problem
) -> None:
    first = await journey.signed_in()
    response = await journey.refresh(first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await journey.claims(second["access_token"]))["loa"] == 1
    me = await client.get("/identity/v1/me", headers=bearer(second["access_token"]))
    assert me.status_code == 200
    assert (await journey.refresh(second["refresh_token"])).status_code == 200


async def test_reusing_a_spent_refresh_token_revokes_the_whole_session(
    journey: Journey, problem: Problem
) -> None:
    phone = await journey.register()
    stolen = (await journey.login(phone)).json()
    other_session = (await journey.login(phone)).json()
    rotated = (await journey.refresh(stolen["refresh_token"])).json()

    reuse = await journey.refresh(stolen["refresh_token"])
    assert "already used" in problem(reuse, 400, "invalid_grant")["detail"]
    # The legitimate holder's newer token dies with the session ...
    problem(await journey.refresh(rotated["refresh_token"]), 400, "invalid_grant")
    # ... and another session of the same account lives on.
    assert (await journey.refresh(other_session["refresh_token"])).status_code == 200


async def test_two_refreshes_racing_with_one_token_give_one_new_token_and_end_the_session(
    journey: Journey, problem: Problem
) -> None:
    tokens = await journey.signed_in()
    answers = await asyncio.gather(
        journey.refresh(tokens["refresh_token"]), journey.refresh(tokens["refresh_token"])
    )
    assert sorted(answer.status_code for answer in answers) == [200, 400]
    winner = next(answer for answer in answers if answer.status_code == 200).json()
    # The loser presented a token the winner had spent: a copy is abroad, the session ends.
    problem(await journey.refresh(winner["refresh_token"]), 400, "invalid_grant")


async def test_an_unknown_refresh_token_is_an_invalid_grant(
    journey: Journey, problem: Problem
) -> None:
    problem(await journey.refresh("made-up"), 400, "invalid_grant")


async def test_an_expired_refresh_token_is_refused(
    journey: Journey, clock: MovableClock, identity_settings: IdentitySettings, problem: Problem
) -> None:
    tokens = await journey.signed_in()
    clock.advance(identity_settings.refresh_token_ttl_seconds + 1)
    problem(await journey.refresh(tokens["refresh_token"]), 400, "invalid_grant")


async def test_identity_refuses_tokens_it_did_not_sign(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    foreign = token_minter.mint("0190a000-0000-7000-8000-000000000000")
    problem(await client.get("/identity/v1/me", headers=bearer(foreign)), 401, "invalid_token")


# Client credentials ---------------------------------------------------------------------------

CLIENT_ID = "330302-public_security"
CLIENT_SECRET = "s" * 40


@pytest.fixture
async def department_client(app: FastAPI, identity_settings: IdentitySettings) -> str:
    configured = identity_settings.model_copy(
        update={
            "seed_client_id": CLIENT_ID,
            "seed_client_secret": SecretStr(CLIENT_SECRET),
            "seed_client_name": "鹿城区公安分局业务系统",
            "seed_client_type": "department_system",
            "seed_client_dept": "330302-public_security",
            "seed_client_scopes": "cases:read cases:write",
        }
    )
    async with app.state.service.database.sessionmaker.begin() as session:
        await seed(session, configured)
    return CLIENT_ID


def basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


async def test_a_department_system_gets_a_token_with_client_credentials(
    client: httpx.AsyncClient, journey: Journey, department_client: str
) -> None:
    response = await client.post(
        "/identity/v1/token",
        data={"grant_type": "client_credentials", "scope": "cases:read"},
        headers=basic(department_client, CLIENT_SECRET),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body
    assert body["scope"] == "cases:read"
    claims = await journey.claims(body["access_token"])
    assert claims["sub"] == department_client
    assert claims["typ"] == "department_system"
    assert claims["dept"] == "330302-public_security"
    assert claims["loa"] == 0
    assert claims["scope"] == "cases:read"


async def test_client_credentials_may_come_in_the_form_and_default_to_every_scope(
    client: httpx.AsyncClient, department_client: str
) -> None:
    response = await client.post(
        "/identity/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": department_client,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "cases:read cases:write"


@pytest.mark.parametrize(
    ("client_id", "secret"), [(CLIENT_ID, "wrong-secret"), ("unknown-client", CLIENT_SECRET)]
)
async def test_a_wrong_client_secret_or_unknown_client_is_refused_alike(
    client: httpx.AsyncClient, department_client: str, problem: Problem, client_id: str, secret: str
) -> None:
    response = await client.post(
        "/identity/v1/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, secret),
    )
    body = problem(response, 401, "invalid_client")
    assert body["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_a_scope_not_granted_to_the_client_is_refused(
    client: httpx.AsyncClient, department_client: str, problem: Problem
) -> None:
    response = await client.post(
        "/identity/v1/token",
        data={"grant_type": "client_credentials", "scope": "cases:read ledger:write"},
        headers=basic(department_client, CLIENT_SECRET),
    )
    assert problem(response, 400, "invalid_scope")["refused_scopes"] == ["ledger:write"]
