"""Sessions: each sign-in is a session its holder lists (when, from which device and address)
and ends; logout ends the session of a refresh token; a delegate cannot touch them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI

from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import FromAddress, Journey, MovableClock

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
PHONE_APP = "OneVisit/3.2 (Android 14; Redmi Note 12)"
BROWSER = "Mozilla/5.0 (Windows NT 10.0)"


async def sign_in(
    journey: Journey, phone: str, *, user_agent: str, forwarded: dict[str, str]
) -> dict[str, Any]:
    response = await journey.login(phone, headers={"User-Agent": user_agent, **forwarded})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def sessions_of(client: httpx.AsyncClient, access_token: str) -> list[dict[str, Any]]:
    response = await client.get("/identity/v1/me/sessions", headers=bearer(access_token))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["sessions"]
    return found


async def test_a_citizen_lists_their_sessions_with_device_address_and_times(
    client: httpx.AsyncClient, journey: Journey, clock: MovableClock, from_address: FromAddress
) -> None:
    phone = await journey.register()
    on_phone = await sign_in(
        journey, phone, user_agent=PHONE_APP, forwarded=from_address("203.0.113.7")
    )
    clock.advance(2)  # within the verifiers' leeway: the later token still verifies
    on_browser = await sign_in(
        journey, phone, user_agent=BROWSER, forwarded=from_address("198.51.100.23")
    )

    listed = await sessions_of(client, on_phone["access_token"])
    assert [(s["user_agent"], s["client_address"], s["current"]) for s in listed] == [
        (BROWSER, "198.51.100.23", False),  # as the gateway established it
        (PHONE_APP, "203.0.113.7", True),
    ]
    phone_session = listed[1]
    assert phone_session["created_at"] == phone_session["last_used_at"]
    assert dt.datetime.fromisoformat(phone_session["expires_at"]) > clock()
    assert [s["current"] for s in await sessions_of(client, on_browser["access_token"])] == [
        True,
        False,
    ]


async def test_a_refresh_marks_the_session_used_and_keeps_it_one_session(
    client: httpx.AsyncClient, journey: Journey, clock: MovableClock, from_address: FromAddress
) -> None:
    phone = await journey.register()
    tokens = await sign_in(
        journey, phone, user_agent=PHONE_APP, forwarded=from_address("203.0.113.7")
    )
    [before] = await sessions_of(client, tokens["access_token"])
    clock.advance(2)
    refreshed = await client.post(
        "/identity/v1/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"User-Agent": PHONE_APP, **from_address("203.0.113.99")},
    )
    assert refreshed.status_code == 200
    # Listed with the earlier access token: the refreshed one is stamped on the moved clock.
    [after] = await sessions_of(client, tokens["access_token"])
    assert after["id"] == before["id"]
    assert after["created_at"] == before["created_at"]
    assert after["last_used_at"] > before["last_used_at"]
    assert after["client_address"] == "203.0.113.99"


async def test_an_address_claimed_by_an_untrusted_peer_is_not_believed(
    app: FastAPI, journey: Journey
) -> None:
    phone = await journey.register()
    transport = httpx.ASGITransport(app=app, client=("192.0.2.50", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as outsider:
        tokens = await sign_in(
            type(journey)(outsider, journey.outbox),
            phone,
            user_agent=BROWSER,
            forwarded={"X-Forwarded-For": "203.0.113.7"},
        )
        [listed] = await sessions_of(outsider, tokens["access_token"])
    assert listed["client_address"] == "192.0.2.50"


async def test_ending_a_session_revokes_its_refresh_tokens_only(
    client: httpx.AsyncClient, journey: Journey, problem: Problem, from_address: FromAddress
) -> None:
    phone = await journey.register()
    lost_phone = await sign_in(
        journey, phone, user_agent=PHONE_APP, forwarded=from_address("203.0.113.7")
    )
    here = await sign_in(
        journey, phone, user_agent=BROWSER, forwarded=from_address("198.51.100.23")
    )
    lost = next(
        s for s in await sessions_of(client, here["access_token"]) if s["user_agent"] == PHONE_APP
    )
    path = f"/identity/v1/me/sessions/{lost['id']}"
    assert (await client.delete(path, headers=bearer(here["access_token"]))).status_code == 204
    assert (await client.delete(path, headers=bearer(here["access_token"]))).status_code == 204

    problem(await journey.refresh(lost_phone["refresh_token"]), 400, "invalid_grant")
    assert [s["user_agent"] for s in await sessions_of(client, here["access_token"])] == [BROWSER]
    assert (await journey.refresh(here["refresh_token"])).status_code == 200


async def test_nobody_ends_another_citizens_session(
    client: httpx.AsyncClient, journey: Journey, problem: Problem
) -> None:
    victim = await journey.signed_in()
    [victim_session] = await sessions_of(client, victim["access_token"])
    intruder = await journey.signed_in()
    path = f"/identity/v1/me/sessions/{victim_session['id']}"
    problem(
        await client.delete(path, headers=bearer(intruder["access_token"])),
        404,
        "session_not_found",
    )
    assert (await journey.refresh(victim["refresh_token"])).status_code == 200


async def test_logout_ends_the_session_of_the_refresh_token(
    client: httpx.AsyncClient, journey: Journey, problem: Problem
) -> None:
    phone = await journey.register()
    leaving = (await journey.login(phone)).json()
    staying = (await journey.login(phone)).json()
    rotated = (await journey.refresh(leaving["refresh_token"])).json()

    response = await client.post(
        "/identity/v1/logout", data={"refresh_token": rotated["refresh_token"]}
    )
    assert response.status_code == 204
    problem(await journey.refresh(rotated["refresh_token"]), 400, "invalid_grant")
    [left] = await sessions_of(client, staying["access_token"])
    assert left["current"]
    assert (await journey.refresh(staying["refresh_token"])).status_code == 200


@pytest.mark.parametrize(("form", "status"), [({"refresh_token": "unknown"}, 204), ({}, 400)])
async def test_logout_with_an_unknown_token_ends_nothing_and_without_one_is_refused(
    client: httpx.AsyncClient, form: dict[str, str], status: int
) -> None:
    response = await client.post("/identity/v1/logout", data=form)
    assert response.status_code == status
    if status == 400:
        assert response.json()["code"] == "invalid_request"


async def test_reuse_detection_ends_the_session_in_the_list_too(
    client: httpx.AsyncClient, journey: Journey
) -> None:
    phone = await journey.register()
    stolen = (await journey.login(phone)).json()
    other = (await journey.login(phone)).json()
    await journey.refresh(stolen["refresh_token"])
    await journey.refresh(stolen["refresh_token"])  # the replay
    assert [s["current"] for s in await sessions_of(client, other["access_token"])] == [True]


async def test_a_delegate_cannot_list_or_end_the_principals_sessions(
    client: httpx.AsyncClient, journey: Journey, people: Any, clock: MovableClock, problem: Problem
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
    as_grandmother = bearer(acting.json()["access_token"])
    problem(
        await client.get("/identity/v1/me/sessions", headers=as_grandmother),
        403,
        "delegated_token_refused",
    )
    [her_session] = await sessions_of(client, grandmother["access_token"])
    path = f"/identity/v1/me/sessions/{her_session['id']}"
    problem(await client.delete(path, headers=as_grandmother), 403, "delegated_token_refused")


async def test_a_step_up_stays_in_the_session_it_was_made_from(
    client: httpx.AsyncClient, journey: Journey, people: Any
) -> None:
    verified = await journey.real_named(people.lin)  # sign-in, then real name: one session
    [only] = await sessions_of(client, verified["access_token"])
    assert only["current"]
