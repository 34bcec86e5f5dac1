"""One-time codes by SMS: sent through the sender seam (the development outbox here, a real HTTP
gateway in production) to every phone asked for, registered or not, in the same text and with
the same answer; single use, short-lived, bounded tries, throttled. Signing in with one signs
in the phone's account, and registers a phone that has none, in one step and with the same
answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr, ValidationError

from identity_svc.models import Account
from identity_svc.settings import IdentitySettings, LoginBackoff
from identity_svc.sms.senders import HttpSmsSender, SmsUnavailable
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import AppStarter, Journey, MovableClock, ResendAllowed, SmsOutbox

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


async def code_login(client: httpx.AsyncClient, phone: str, code: str) -> httpx.Response:
    return await client.post(
        "/identity/v1/token", data={"grant_type": "sms_code", "username": phone, "code": code}
    )


async def new_code(journey: Journey, resend_allowed: ResendAllowed, phone: str) -> str:
    """Another code for a phone that was sent one moments ago (at registration)."""
    await resend_allowed(phone)
    asked = await journey.ask_code(phone)
    assert asked.status_code == 202, asked.text
    return journey.outbox.last_code(phone)


async def test_a_citizen_signs_in_with_a_code_sent_by_sms(
    client: httpx.AsyncClient,
    journey: Journey,
    outbox: SmsOutbox,
    resend_allowed: ResendAllowed,
) -> None:
    phone = await journey.register()
    await resend_allowed(phone)
    response = await journey.ask_code(phone)
    assert response.status_code == 202, response.text
    assert response.json() == {"expires_in": 300, "resend_after": 60}
    [_registration, sign_in] = outbox.texts_to(phone)
    assert outbox.last_code(phone) in sign_in

    login = await code_login(client, phone, outbox.last_code(phone))
    assert login.status_code == 200, login.text
    claims = await journey.claims(login.json()["access_token"])
    assert claims["loa"] == 1
    me = await client.get("/identity/v1/me", headers=bearer(login.json()["access_token"]))
    assert me.status_code == 200
    assert (await journey.refresh(login.json()["refresh_token"])).status_code == 200


async def test_signing_in_with_a_code_registers_a_phone_that_has_no_account(
    app: FastAPI,
    client: httpx.AsyncClient,
    journey: Journey,
    outbox: SmsOutbox,
    resend_allowed: ResendAllowed,
    problem: Problem,
) -> None:
    registered = await journey.register()
    known = await code_login(
        client, registered, await new_code(journey, resend_allowed, registered)
    )
    phone = journey.new_phone()
    assert (await journey.ask_code(phone)).status_code == 202
    signed_up = await code_login(client, phone, outbox.last_code(phone))

    # One step, answered as a sign-in of an existing account is.
    assert signed_up.status_code == known.status_code == 200, signed_up.text
    assert set(signed_up.json()) == set(known.json())
    token = signed_up.json()["access_token"]
    me = (await client.get("/identity/v1/me", headers=bearer(token))).json()
    assert (me["typ"], me["loa"], me["phone_masked"]) == (
        "citizen",
        1,
        f"{phone[:3]}****{phone[-4:]}",
    )
    assert (await journey.refresh(signed_up.json()["refresh_token"])).status_code == 200
    # An account without a password: codes sign it in, no password does.
    async with app.state.service.database.sessionmaker() as session:
        account = await session.get(Account, uuid.UUID(me["id"]))
    assert account is not None
    assert account.password_hash == ""
    problem(await journey.login(phone, ""), 400, "invalid_request")
    problem(await journey.login(phone, "anything at all"), 400, "invalid_grant")
    changed = await client.put(
        "/identity/v1/me/password",
        json={"current_password": "anything at all", "new_password": "Songtai-2026!"},
        headers=bearer(token),
    )
    problem(changed, 403, "wrong_password")
    # Its holder may now learn that the phone is registered, by another code.
    again = await client.post(
        "/identity/v1/citizens",
        json={
            "phone": phone,
            "password": "Songtai-2026!",
            "code": await new_code(journey, resend_allowed, phone),
        },
    )
    problem(again, 409, "phone_already_registered")
    # And the code she proved it with signs her in.
    assert (await code_login(client, phone, outbox.last_code(phone))).status_code == 200


async def test_a_code_is_single_use(
    client: httpx.AsyncClient,
    journey: Journey,
    resend_allowed: ResendAllowed,
    problem: Problem,
) -> None:
    phone = await journey.register()
    code = await new_code(journey, resend_allowed, phone)
    assert (await code_login(client, phone, code)).status_code == 200
    problem(await code_login(client, phone, code), 400, "invalid_grant")


async def test_an_expired_code_is_refused(
    client: httpx.AsyncClient,
    journey: Journey,
    clock: MovableClock,
    resend_allowed: ResendAllowed,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    phone = await journey.register()
    code = await new_code(journey, resend_allowed, phone)
    clock.advance(identity_settings.sms_code_ttl_seconds + 1)
    problem(await code_login(client, phone, code), 400, "invalid_grant")


async def test_too_many_wrong_codes_spend_the_code(
    identity_settings: IdentitySettings,
    start_app: AppStarter,
    journey: Journey,
    problem: Problem,
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
            journey.client = client
            phone = journey.new_phone()
            await journey.ask_code(phone)
            code = journey.outbox.last_code(phone)
            wrong = f"{(int(code) + 1) % 1_000_000:06d}"
            for _ in range(lax.sms_code_max_attempts):
                problem(await code_login(client, phone, wrong), 400, "invalid_grant")
            problem(await code_login(client, phone, code), 400, "invalid_grant")


async def test_wrong_codes_count_towards_login_throttling(
    client: httpx.AsyncClient,
    journey: Journey,
    resend_allowed: ResendAllowed,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    phone = await journey.register()
    await new_code(journey, resend_allowed, phone)
    for _ in range(identity_settings.login_throttling["login_and_address"].free_failures - 1):
        problem(await code_login(client, phone, "000000x"), 400, "invalid_grant")
    problem(await code_login(client, phone, "000000x"), 429, "login_throttled")
    problem(await journey.login(phone), 429, "login_throttled")


async def test_every_phone_gets_the_same_answer_and_the_same_text(
    journey: Journey,
    outbox: SmsOutbox,
    resend_allowed: ResendAllowed,
    problem: Problem,
) -> None:
    registered, unregistered = await journey.register(), journey.new_phone()
    await resend_allowed(registered)
    known = await journey.ask_code(registered)
    unknown = await journey.ask_code(unregistered)
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert set(known.headers) == set(unknown.headers)
    codes = [outbox.last_code(phone) for phone in (registered, unregistered)]
    texts = [
        outbox.texts_to(phone)[-1].replace(code, "")
        for phone, code in zip((registered, unregistered), codes, strict=True)
    ]
    assert texts[0] == texts[1]
    for phone in (registered, unregistered):
        problem(await journey.ask_code(phone), 429, "sms_code_throttled")


async def test_a_new_code_must_wait_for_the_resend_interval(
    journey: Journey,
    clock: MovableClock,
    outbox: SmsOutbox,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    phone = journey.new_phone()
    assert (await journey.ask_code(phone)).status_code == 202
    throttled = await journey.ask_code(phone)
    body = problem(throttled, 429, "sms_code_throttled")
    assert int(throttled.headers["retry-after"]) == body["retry_after"] <= 60
    clock.advance(identity_settings.sms_resend_interval_seconds)
    assert (await journey.ask_code(phone)).status_code == 202
    assert len(outbox.texts_to(phone)) == 2


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
