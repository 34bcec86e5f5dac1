"""Changing one's password: the current one proven (and throttled like a login), the policy
applied, every other session ended; never by a delegate acting for the account holder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from identity_svc.settings import IdentitySettings
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Journey, MovableClock, People

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
PASSWORD = "Songtai-2026!"
NEW_PASSWORD = "Ouyang-Road-77"


async def change(
    client: httpx.AsyncClient, access_token: str, current: str, new: str
) -> httpx.Response:
    return await client.put(
        "/identity/v1/me/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(access_token),
    )


async def test_a_new_password_ends_the_other_sessions_and_keeps_this_one(
    client: httpx.AsyncClient, journey: Journey, problem: Problem
) -> None:
    phone = await journey.register()
    here = (await journey.login(phone)).json()
    elsewhere = (await journey.login(phone)).json()
    assert (await change(client, here["access_token"], PASSWORD, NEW_PASSWORD)).status_code == 204

    problem(await journey.login(phone), 400, "invalid_grant")
    assert (await journey.login(phone, NEW_PASSWORD)).status_code == 200
    problem(await journey.refresh(elsewhere["refresh_token"]), 400, "invalid_grant")
    assert (await journey.refresh(here["refresh_token"])).status_code == 200


async def test_a_wrong_current_password_is_refused_and_counts_as_a_failed_login(
    client: httpx.AsyncClient,
    journey: Journey,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    phone = await journey.register()
    token = (await journey.login(phone)).json()["access_token"]
    rule = identity_settings.login_throttling["login_and_address"]
    for _ in range(rule.free_failures - 1):
        problem(await change(client, token, "guess-guess", NEW_PASSWORD), 403, "wrong_password")
    problem(await change(client, token, "guess-guess", NEW_PASSWORD), 429, "login_throttled")
    problem(await change(client, token, PASSWORD, NEW_PASSWORD), 429, "login_throttled")
    # The same count as a sign-in's, at the same address.
    problem(await journey.login(phone), 429, "login_throttled")


async def test_the_new_password_must_meet_the_policy(
    client: httpx.AsyncClient, journey: Journey, problem: Problem
) -> None:
    phone = await journey.register()
    token = (await journey.login(phone)).json()["access_token"]
    body = problem(await change(client, token, PASSWORD, f"x{phone}"), 422, "weak_password")
    assert body["reason"] == "contains_phone"


async def test_a_delegate_cannot_change_the_principals_password(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    clock: MovableClock,
    problem: Problem,
) -> None:
    grandmother = await journey.real_named(people.lin)
    grandson_phone = await journey.register()
    grandson = (await journey.login(grandson_phone)).json()
    created = await client.post(
        "/identity/v1/me/delegations",
        json={
            "delegate_phone": grandson_phone,
            "valid_until": (clock() + dt.timedelta(days=1)).isoformat(),
        },
        headers=bearer(grandmother["access_token"]),
    )
    acting = await client.post(
        "/identity/v1/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject": created.json()["id"],
            "actor_token": grandson["access_token"],
        },
    )
    refused = await change(client, acting.json()["access_token"], PASSWORD, NEW_PASSWORD)
    problem(refused, 403, "delegated_token_refused")
