"""The revocation list: every way a session or a client ends puts its access tokens on the list
identity-svc publishes (``GET /identity/v1/revocations``) and its own verifier follows; logout
takes the refresh token alone, as a form or JSON, and RFC 7009 revocation takes either token;
entries last as long as the tokens they cover."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Journey, MovableClock

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


async def feed(client: httpx.AsyncClient, cursor: str | None = None) -> dict[str, Any]:
    response = await client.get(
        "/identity/v1/revocations", params={"cursor": cursor} if cursor else None
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def ids_of(page: dict[str, Any], kind: str = "session") -> list[str]:
    return [entry["id"] for entry in page["items"] if entry["kind"] == kind]


async def refused_within_a_poll(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """``GET /me`` with the token, once identity-svc's own verifier has read the list (the
    tests' poll interval is 50 ms)."""
    for _ in range(100):
        answer = await client.get("/identity/v1/me", headers=bearer(token))
        if answer.status_code == 401:
            return answer
        await asyncio.sleep(0.02)
    return answer


@pytest.mark.parametrize("encoding", ["form", "json"])
async def test_logout_with_the_refresh_token_alone_revokes_the_sessions_access_tokens(
    client: httpx.AsyncClient, journey: Journey, problem: Problem, encoding: str
) -> None:
    tokens = await journey.signed_in()
    sid = (await journey.claims(tokens["access_token"]))["sid"]
    body = {"refresh_token": tokens["refresh_token"]}
    sent = {"data": body} if encoding == "form" else {"json": body}

    logout = await client.post("/identity/v1/logout", **sent)  # type: ignore[arg-type]

    assert logout.status_code == 204, logout.text
    entry = next(e for e in (await feed(client))["items"] if e["id"] == sid)
    assert entry["kind"] == "session"
    assert entry["issued_up_to"] >= (await journey.claims(tokens["access_token"]))["iat"]
    refused = await refused_within_a_poll(client, tokens["access_token"])
    problem(refused, 401, "token_revoked")
    assert refused.headers["www-authenticate"] == 'Bearer error="token_revoked"'


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", b"{not json", 400, "malformed_body"),
        ("application/json", b'{"refresh_token": 7}', 422, "validation_failed"),
        ("application/json", b"{}", 400, "invalid_request"),
        ("application/x-www-form-urlencoded", b"", 400, "invalid_request"),
    ],
)
async def test_a_logout_without_a_usable_refresh_token_is_refused(
    client: httpx.AsyncClient,
    problem: Problem,
    content_type: str,
    body: bytes,
    status: int,
    code: str,
) -> None:
    response = await client.post(
        "/identity/v1/logout", content=body, headers={"content-type": content_type}
    )
    problem(response, status, code)


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
async def test_rfc_7009_revocation_of_either_token_ends_the_session(
    client: httpx.AsyncClient, journey: Journey, problem: Problem, hint: str | None
) -> None:
    for revoked in ("access_token", "refresh_token"):
        tokens = await journey.signed_in()
        form = {"token": tokens[revoked]}
        if hint is not None:
            form["token_type_hint"] = hint  # a wrong hint only orders the look-ups (§2.1)
        answer = await client.post("/identity/v1/revoke", data=form)
        assert (answer.status_code, answer.content) == (200, b"")
        problem(await refused_within_a_poll(client, tokens["access_token"]), 401, "token_revoked")
        problem(await journey.refresh(tokens["refresh_token"]), 400, "invalid_grant")


async def test_revoking_an_unknown_token_answers_200_and_records_nothing(
    client: httpx.AsyncClient, problem: Problem
) -> None:
    before = await feed(client)
    for token in ("rt_unknown", "a.b.c"):
        answer = await client.post("/identity/v1/revoke", data={"token": token})
        assert answer.status_code == 200, answer.text
    assert (await feed(client))["items"] == before["items"]
    problem(await client.post("/identity/v1/revoke", data={}), 400, "invalid_request")


async def test_every_way_a_session_ends_puts_it_on_the_list(
    client: httpx.AsyncClient, journey: Journey
) -> None:
    async def session_id(tokens: dict[str, Any]) -> str:
        sid: str = (await journey.claims(tokens["access_token"]))["sid"]
        return sid

    # The holder ends one of her sessions from another.
    phone = await journey.register()
    first, second = (await journey.login(phone)).json(), (await journey.login(phone)).json()
    ended = await client.delete(
        f"/identity/v1/me/sessions/{await session_id(first)}",
        headers=bearer(second["access_token"]),
    )
    assert ended.status_code == 204
    # A refresh token presented twice: someone holds a copy, the session ends.
    stolen = await journey.signed_in()
    assert (await journey.refresh(stolen["refresh_token"])).status_code == 200
    assert (await journey.refresh(stolen["refresh_token"])).status_code == 400
    # A password change ends every other session.
    other = (await journey.login(phone)).json()
    changed = await client.put(
        "/identity/v1/me/password",
        json={"current_password": "Songtai-2026!", "new_password": "Songtai-2027-new!"},
        headers=bearer(second["access_token"]),
    )
    assert changed.status_code == 204, changed.text

    listed = ids_of(await feed(client))
    for tokens in (first, stolen, other):
        assert await session_id(tokens) in listed
    assert await session_id(second) not in listed  # the one that changed the password lives on


async def test_a_poll_with_the_cursor_gets_what_was_recorded_since_and_entries_run_out(
    client: httpx.AsyncClient, journey: Journey, clock: MovableClock
) -> None:
    early = await journey.signed_in()
    await client.post("/identity/v1/logout", data={"refresh_token": early["refresh_token"]})
    early_sid = (await journey.claims(early["access_token"]))["sid"]
    clock.advance(60)  # past the margin a poll reads again before its cursor
    first = await feed(client)
    assert early_sid in ids_of(first)

    late = await journey.signed_in()
    await client.post("/identity/v1/logout", data={"refresh_token": late["refresh_token"]})
    late_sid = (await journey.claims(late["access_token"], check_times=False))["sid"]
    since = await feed(client, first["next_cursor"])
    assert ids_of(since) == [late_sid]

    # Every token a logout covers has expired ten minutes (and the leeway) after it.
    clock.advance(560)
    assert ids_of(await feed(client)) == [late_sid]


async def test_a_cursor_of_another_kind_is_refused(
    client: httpx.AsyncClient, problem: Problem
) -> None:
    problem(
        await client.get("/identity/v1/revocations", params={"cursor": "forged.cursor"}),
        400,
        "invalid_cursor",
    )
