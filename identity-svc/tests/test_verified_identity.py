"""The verified identity of a token's subject, in full: what a service the citizen applies to
fills and checks the applicant's fields of a form with, asked with her own token. It tells whom
the token names (the principal, when a delegate acts; the enterprise, for an enterprise
token), nobody else, and only what a verification established."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Business, Journey, MovableClock, People

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
VERIFIED_IDENTITY = "/identity/v1/me/verified-identity"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


async def read(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(VERIFIED_IDENTITY, headers=bearer(token))


async def test_a_real_named_citizen_reads_her_own_name_and_id_number_in_full_and_uncached(
    client: httpx.AsyncClient, journey: Journey, people: People
) -> None:
    verified = await journey.real_named(people.lin)

    response = await read(client, verified["access_token"])

    assert response.status_code == 200, response.text
    assert response.json() == {
        "subject": "person",
        "name": people.lin.name,
        "id_number": people.lin.id_number,
    }
    assert response.headers["cache-control"] == "no-store"


async def test_a_delegates_token_reads_the_principals_identity_not_the_delegates(
    client: httpx.AsyncClient, journey: Journey, people: People, clock: MovableClock
) -> None:
    grandmother = await journey.real_named(people.lin)
    grandson_phone = await journey.register()
    signed_in = (await journey.login(grandson_phone)).json()
    grandson = await journey.bound(signed_in["access_token"], people.wang)
    granted = await client.post(
        "/identity/v1/me/delegations",
        json={
            "delegate_phone": grandson_phone,
            "valid_until": (clock() + dt.timedelta(days=7)).isoformat(),
        },
        headers=bearer(grandmother["access_token"]),
    )
    assert granted.status_code == 201, granted.text
    acting = await client.post(
        "/identity/v1/token",
        data={
            "grant_type": EXCHANGE,
            "subject": granted.json()["id"],
            "actor_token": grandson["access_token"],
        },
    )
    assert acting.status_code == 200, acting.text

    response = await read(client, acting.json()["access_token"])

    assert response.status_code == 200, response.text
    assert response.json() == {
        "subject": "person",
        "name": people.lin.name,
        "id_number": people.lin.id_number,
    }
    own = await read(client, grandson["access_token"])
    assert own.json()["id_number"] == people.wang.id_number


async def test_an_enterprise_token_reads_the_enterprises_credit_code_and_registered_name(
    client: httpx.AsyncClient, journey: Journey, people: People, business: Business
) -> None:
    representative = await journey.real_named(people.wang)
    claimed = await client.post(
        "/identity/v1/enterprises",
        json={"credit_code": business.credit_code},
        headers=bearer(representative["access_token"]),
    )
    assert claimed.status_code == 201, claimed.text
    acting = await client.post(
        "/identity/v1/token",
        data={
            "grant_type": EXCHANGE,
            "subject": business.credit_code,
            "actor_token": representative["access_token"],
        },
    )
    assert acting.status_code == 200, acting.text

    response = await read(client, acting.json()["access_token"])

    assert response.status_code == 200, response.text
    assert response.json() == {
        "subject": "enterprise",
        "credit_code": business.credit_code,
        "enterprise_name": business.name,
    }


async def test_without_a_verified_real_name_the_answer_is_the_step_that_gives_one(
    client: httpx.AsyncClient, journey: Journey, problem: Problem
) -> None:
    signed_in = await journey.signed_in()

    body = problem(await read(client, signed_in["access_token"]), 403, "insufficient_assurance")

    assert (body["required_loa"], body["step"]) == (2, "real_name")


async def test_staff_hold_no_verified_identity_to_read(
    client: httpx.AsyncClient, platform_admin: str, problem: Problem
) -> None:
    problem(await read(client, platform_admin), 403, "wrong_principal_type")


async def test_without_a_token_nothing_is_told(client: httpx.AsyncClient, problem: Problem) -> None:
    problem(await client.get(VERIFIED_IDENTITY), 401, "unauthenticated")
