"""One-time sign-in codes by SMS: sent through the sender seam (the development outbox here, a
real HTTP gateway in production), single use, short-lived, bounded tries, throttled, answering
alike for registered and unregistered phones."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr, ValidationError

from identity_svc.settings import IdentitySettings, LoginBackoff
from identity_svc.sms.senders import HttpSmsSender, SmsUnavailable
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import AppStarter, Journey, MovableClock

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


def outbox(settings: IdentitySettings) -> list[dict[str, str]]:
    path = settings.sms_outbox_path
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def last_code(settings: IdentitySettings, phone: str) -> str:
    texts = [message["text"] for message in outbox(settings) if message["to"] == phone]
    found = re.search(r"\d{6}", texts[-1])
    assert found
    return found.group()


async def ask_code(client: httpx.AsyncClient, phone: str) -> httpx.Response:
    return await client.post("/identity/v1/sms-codes", json={"phone": phone})


async def code_login(client: httpx.AsyncClient, phone: str, code: str) -> httpx.Response:
    return await client.post(
        "/identity/v1/token", data={"grant_type": "sms_code", "username": phone, "code": code}
    )


async def test_a_citizen_signs_in_with_a_code_sent_by_sms(
    client: httpx.AsyncClient, journey: Journey, identity_settings: IdentitySettings
) -> None:
    phone = await journey.register()
    response = await ask_code(client, phone)
    assert response.status_code == 202, response.text
    assert response.json() == {"expires_in": 300, "resend_after": 60}
    [message] = outbox(identity_settings)
    assert message["to"] == phone
    code = last_code(identity_settings, phone)

    login = await code_login(client, phone, code)
    assert login.status_code == 200, login.text
    claims = await journey.claims(login.json()["access_token"])
    assert claims["loa"] == 1
    me = await client.get("/identity/v1/me", headers=bearer(login.json()["access_token"]))
    assert me.status_code == 200
    assert (await journey.refresh(login.json()["refresh_token"])).status_code == 200


async def test_a_code_is_single_use(
    client: httpx.AsyncClient,
    journey: Journey,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    phone = await journey.register()
    await ask_code(client, phone)
    code = last_code(identity_settings, phone)
    assert (await code_login(client, phone, code)).status_code == 200
    problem(await code_login(client, phone, code), 400, "invalid_grant")


async def test_an_expired_code_is_refused(
    client: httpx.AsyncClient,
    journey: Journey,
    clock: MovableClock,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    phone = await journey.register()
    await ask_code(client, phone)
    clock.advance(identity_settings.sms_code_ttl_seconds + 1)
    problem(
        await code_login(client, phone, last_code(identity_settings, phone)), 400, "invalid_grant"
    )


async def test_too_many_wrong_codes_spend_the_code(
    identity_settings: IdentitySettings, start_app: AppStarter, problem: Problem
) -> None:
    # Laxer login throttling, so that the code's own limit is what shows.
    lax_rule = LoginBackoff(
        free_failures=50, first_delay_seconds=1, max_delay_seconds=1, window_seconds=60
    )
    lax = identity_settings.model_copy(
        update={"login_throttling": dict.fromkeys(identity_settings.login_throttling, lax_rule)}
    )
    async with start_app(lax) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            phone = await register_one(client)
            await ask_code(client, phone)
            code = last_code(lax, phone)
            wrong = f"{(int(code) + 1) % 1_000_000:06d}"
            for _ in range(lax.sms_code_max_attempts):
                problem(await code_login(client, phone, wrong), 400, "invalid_grant")
            problem(await code_login(client, phone, code), 400, "invalid_grant")


async def register_one(client: httpx.AsyncClient) -> str:
    phone = "13811112345"
    response = await client.post(
        "/identity/v1/citizens", json={"phone": phone, "password": "Songtai-2026!"}
    )
    assert response.status_code == 201, response.text
    return phone


async def test_wrong_codes_count_towards_login_throttling(
    client: httpx.AsyncClient,
    journey: Journey,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    phone = await journey.register()
    await ask_code(client, phone)
    for _ in range(identity_settings.login_throttling["login_and_address"].free_failures - 1):
        problem(await code_login(client, phone, "000000x"), 400, "invalid_grant")
    problem(await code_login(client, phone, "000000x"), 429, "login_throttled")
    problem(await journey.login(phone), 429, "login_throttled")


async def test_an_unregistered_phone_gets_the_same_answer_and_no_message(
    client: httpx.AsyncClient,
    journey: Journey,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    registered = await journey.register()
    known = await ask_code(client, registered)
    unknown = await ask_code(client, "13911119999")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert [message["to"] for message in outbox(identity_settings)] == [registered]
    problem(await ask_code(client, "13911119999"), 429, "sms_code_throttled")
    problem(await code_login(client, "13911119999", "123456"), 400, "invalid_grant")


async def test_a_new_code_must_wait_for_the_resend_interval(
    client: httpx.AsyncClient,
    journey: Journey,
    clock: MovableClock,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    phone = await journey.register()
    await ask_code(client, phone)
    throttled = await ask_code(client, phone)
    body = problem(throttled, 429, "sms_code_throttled")
    assert int(throttled.headers["retry-after"]) == body["retry_after"] <= 60
    clock.advance(identity_settings.sms_resend_interval_seconds)
    assert (await ask_code(client, phone)).status_code == 202
    assert len(outbox(identity_settings)) == 2


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"grant_type": "sms_code", "username": "13800000000"}, "invalid_request"),
        ({"grant_type": "sms_code", "code": "123456"}, "invalid_request"),
    ],
)
async def test_a_malformed_code_login_is_refused(
    client: httpx.AsyncClient, problem: Problem, form: dict[str, str], code: str
) -> None:
    problem(await client.post("/identity/v1/token", data=form), 400, code)


# The sender seam ------------------------------------------------------------------------------


def sms_gateway(status: int) -> tuple[FastAPI, list[tuple[dict[str, Any], str | None]]]:
    """A double of an SMS gateway's HTTP contract: records what it receives."""
    received: list[tuple[dict[str, Any], str | None]] = []
    gateway = FastAPI()

    @gateway.post("/v1/messages")
    async def messages(request: Request) -> JSONResponse:
        received.append((await request.json(), request.headers.get("authorization")))
        return JSONResponse({"accepted": status < 300}, status_code=status)

    return gateway, received


async def test_the_http_sender_posts_the_message_to_the_configured_gateway() -> None:
    gateway, received = sms_gateway(202)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway)) as http:
        sender = HttpSmsSender(http, endpoint="http://sms.test/v1/messages", api_key="k-123")
        await sender.send(to="13800000000", text="验证码 123456")
    assert received == [({"to": "13800000000", "text": "验证码 123456"}, "Bearer k-123")]


async def test_a_gateway_refusal_is_sms_unavailable() -> None:
    gateway, _ = sms_gateway(500)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway)) as http:
        sender = HttpSmsSender(http, endpoint="http://sms.test/v1/messages", api_key="")
        with pytest.raises(SmsUnavailable):
            await sender.send(to="13800000000", text="x")


def test_production_refuses_the_development_sink() -> None:
    keys = [SecretStr("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")] * 6
    production = {
        "environment": "production",
        "personal_data_key": keys[0],
        "lookup_hash_key": keys[1],
        "key_encryption_key": keys[2],
        "cursor_key": keys[3],
        "request_digest_key": keys[4],
        "sealing_keys": {"2026-12": keys[0]},
        "sealing_key_id": "2026-12",
        "forwarded_key": keys[5],
    }
    with pytest.raises(ValidationError, match="SMS sink"):
        IdentitySettings(**production)
    with pytest.raises(ValidationError, match="IDENTITY_SMS_ENDPOINT"):
        IdentitySettings(**production, sms_sender="http")
    IdentitySettings(**production, sms_sender="http", sms_endpoint="https://sms.test/v1/messages")
