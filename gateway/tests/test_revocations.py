"""The gateway holds identity-svc's revocation list beside its token cache: it polls the list
(with the cursor of the previous answer), refuses the tokens it covers with 401
``token_revoked`` before any service hears of them, and keeps what it holds while the list
cannot be read."""

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.tests.conftest import StartGateway
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
CASES = "/cases/v1/cases/330302-20261126-000001"


def entry(kind: str, subject: str, *, generations_below: int | None = None) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "kind": kind,
        "id": subject,
        "issued_up_to": int(now.timestamp()),
        "generations_below": generations_below,
        "expires_at": (now + dt.timedelta(minutes=10)).isoformat(),
    }


async def answer_within(
    gateway: httpx.AsyncClient, token: str, status: int, *, seconds: float = 5.0
) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        answer = await gateway.get(CASES, headers=bearer(token))
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.02)


@pytest.fixture
async def polling_gateway(start_gateway: StartGateway) -> httpx.AsyncClient:
    return await start_gateway(revocation_poll_seconds=0.05)


async def test_a_token_of_a_revoked_session_is_refused_within_a_poll(
    polling_gateway: httpx.AsyncClient,
    services: dict[str, Any],
    token_minter: TokenMinter,
    problem: Problem,
) -> None:
    sid = str(uuid.uuid4())
    token = token_minter.mint("citizen-1", sid=sid, issued_at=int(time.time()) - 5)
    other = token_minter.mint("citizen-2", sid=str(uuid.uuid4()), issued_at=int(time.time()) - 5)
    assert (await polling_gateway.get(CASES, headers=bearer(token))).status_code == 200

    services["identity"].revocations.append(entry("session", sid))

    refused = await answer_within(polling_gateway, token, 401)
    problem(refused, 401, "token_revoked")
    assert refused.headers["www-authenticate"] == 'Bearer error="token_revoked"'
    received = len(services["case"].received)
    problem(await polling_gateway.get(CASES, headers=bearer(token)), 401, "token_revoked")
    assert len(services["case"].received) == received  # the service never heard of it
    assert (await polling_gateway.get(CASES, headers=bearer(other))).status_code == 200
    # A token of the session issued after the entry (its refresh, after a role change) passes.
    later = token_minter.mint("citizen-1", sid=sid, issued_at=int(time.time()) + 1)
    assert (await polling_gateway.get(CASES, headers=bearer(later))).status_code == 200


async def test_a_clients_tokens_are_refused_all_or_those_of_older_secrets(
    polling_gateway: httpx.AsyncClient,
    services: dict[str, Any],
    token_minter: TokenMinter,
    problem: Problem,
) -> None:
    issued_at = int(time.time()) - 5
    old, new = (
        token_minter.mint(
            "ds-lucheng",
            typ="department_system",
            scope=("cases:read",),
            sgen=gen,
            issued_at=issued_at,
        )
        for gen in (1, 2)
    )
    services["identity"].revocations.append(entry("client", "ds-lucheng", generations_below=2))
    problem(await answer_within(polling_gateway, old, 401), 401, "token_revoked")
    assert (await polling_gateway.get(CASES, headers=bearer(new))).status_code == 200

    services["identity"].revocations.append(entry("client", "ds-lucheng"))  # disabled
    problem(await answer_within(polling_gateway, new, 401), 401, "token_revoked")


async def test_the_gateway_polls_with_the_cursor_and_keeps_the_list_while_it_cannot_read_it(
    polling_gateway: httpx.AsyncClient,
    services: dict[str, Any],
    token_minter: TokenMinter,
    problem: Problem,
) -> None:
    identity = services["identity"]
    sid = str(uuid.uuid4())
    token = token_minter.mint("citizen-1", sid=sid, issued_at=int(time.time()) - 5)
    identity.revocations.append(entry("session", sid))
    problem(await answer_within(polling_gateway, token, 401), 401, "token_revoked")
    # The run's other gateway (the ``gateway`` fixture) polls the same fake every few seconds,
    # with the cursor it holds: this gateway's first poll is the only one without a cursor.
    polls = list(identity.revocation_polls)
    first = polls.index(None)  # the whole list first
    assert all(cursor is not None and cursor.startswith("after-") for cursor in polls[first + 1 :])

    identity.revocations[:] = [{"kind": "not a kind"}]  # a list the gateway cannot read
    await asyncio.sleep(0.3)
    problem(await polling_gateway.get(CASES, headers=bearer(token)), 401, "token_revoked")
    # After a failed poll it asks for the whole list again.
    assert None in identity.revocation_polls[len(polls) :]
