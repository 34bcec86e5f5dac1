"""The client's address identity-svc records and throttles by: the one the gateway signed, and
a direct caller's own whatever it claims (``servicekit.forwarding``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI

from identity_svc.settings import IdentitySettings
from servicekit.forwarding import HEADER
from servicekit.settings import development_key
from servicekit.testing import bearer, forwarded_by_gateway

if TYPE_CHECKING:
    from conftest import FromAddress, Journey

#: A process on identity-svc's own host, reaching its port without going through the gateway:
#: a loopback peer, which identity-svc once believed X-Forwarded-For from.
DIRECT_PEER = "127.0.0.1"


@pytest.fixture
async def direct(app: FastAPI, journey: Journey) -> AsyncIterator[Journey]:
    """The journey's steps, from a machine that reaches identity-svc's port directly."""
    transport = httpx.ASGITransport(app=app, client=(DIRECT_PEER, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
        yield type(journey)(client, journey.outbox)


async def address_of_session(journey: Journey, headers: dict[str, str]) -> str:
    """Register, sign in with ``headers``, and return the address the session was recorded at."""
    phone = await journey.register()
    signed_in = await journey.login(phone, headers=headers)
    assert signed_in.status_code == 200, signed_in.text
    listed = await journey.client.get(
        "/identity/v1/me/sessions", headers=bearer(signed_in.json()["access_token"])
    )
    [session] = listed.json()["sessions"]
    address: str = session["client_address"]
    return address


async def test_the_address_the_gateway_signed_is_the_clients(
    direct: Journey, from_address: FromAddress
) -> None:
    assert await address_of_session(direct, from_address("203.0.113.7")) == "203.0.113.7"


def forged(settings: IdentitySettings) -> dict[str, dict[str, Any]]:
    genuine = forwarded_by_gateway(settings, "203.0.113.7")
    other_key = settings.model_copy(update={"forwarded_key": development_key("a guess")})
    return {
        "x-forwarded-for": {"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7"},
        "signed with another key": forwarded_by_gateway(other_key, "203.0.113.7"),
        "address changed": {HEADER: genuine[HEADER].replace("203.0.113.7", "203.0.113.8")},
        "signed for another request": {**genuine, "x-request-id": "another-request"},
        "stale": {HEADER: "203.0.113.7;1764120000;" + genuine[HEADER].rsplit(";", 1)[1]},
    }


@pytest.mark.parametrize(
    "how",
    [
        "x-forwarded-for",
        "signed with another key",
        "address changed",
        "signed for another request",
        "stale",
    ],
)
async def test_a_direct_caller_claiming_another_address_is_its_own(
    direct: Journey, identity_settings: IdentitySettings, how: str
) -> None:
    headers = forged(identity_settings)[how]
    assert await address_of_session(direct, headers) == DIRECT_PEER


async def test_a_direct_callers_failures_count_at_its_own_address_whatever_it_claims(
    direct: Journey,
    journey: Journey,
    identity_settings: IdentitySettings,
    from_address: FromAddress,
) -> None:
    """Guesses sent straight to identity-svc claiming the owner's address slow the guesser,
    not her: its X-Forwarded-For and forged signatures name nobody but itself."""
    rule = identity_settings.login_throttling["login_and_address"]
    owner = await journey.register()
    claims = forged(identity_settings)
    for how in list(claims)[: rule.free_failures]:
        answer = await direct.login(owner, "guess-1234", headers=claims[how])
    assert answer.status_code == 429
    assert answer.json()["throttled_by"] == "login_and_address"
    # The guesser is slowed whatever it claims next ...
    answer = await direct.login(owner, "guess-1234", headers=claims["stale"])
    assert answer.status_code == 429
    # ... and the owner, at the address it claimed, is not.
    assert (await journey.login(owner, headers=from_address("203.0.113.7"))).status_code == 200
