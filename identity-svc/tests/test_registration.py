"""Registering a citizen: the phone proved by a code texted to it, a password, the password
policy, one account per phone, personal identifiers that never sit in clear — and nothing that
tells anyone but the phone's holder whether the phone has an account."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from identity_svc.models import Account
from identity_svc.settings import IdentitySettings, LoginBackoff
from servicekit.ids import new_id
from servicekit.sealing import UnsealableValue
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import AppStarter, FromAddress, Journey, ResendAllowed, SmsOutbox

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
PASSWORD = "Songtai-2026!"


async def register(
    client: httpx.AsyncClient, phone: str, code: str | None, **headers: str
) -> httpx.Response:
    body = {"phone": phone, "password": PASSWORD}
    if code is not None:
        body["code"] = code
    return await client.post("/identity/v1/citizens", json=body, headers=headers)


async def test_a_citizen_registers_with_a_phone_a_password_and_the_code_texted_to_it(
    client: httpx.AsyncClient, journey: Journey, outbox: SmsOutbox
) -> None:
    assert (await journey.ask_code("13800000000")).status_code == 202
    response = await register(client, "13800000000", outbox.last_code("13800000000"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["phone_masked"] == "138****0000"
    assert body["loa"] == 1
    assert set(body) == {"id", "phone_masked", "loa"}
    assert (await journey.login("13800000000")).status_code == 200


async def test_the_phone_is_sealed_and_the_password_hashed_with_argon2id(
    app: FastAPI, journey: Journey
) -> None:
    phone = await journey.register("13912345678")
    async with app.state.service.database.sessionmaker() as session:
        account = (await session.scalars(select(Account))).one()
    assert phone.encode() not in account.phone_sealed
    assert phone not in account.phone_hash
    assert account.password_hash.startswith("$argon2id$")
    personal = app.state.service.runtime.personal_data
    assert personal.unseal("phone", account.phone_sealed, account_id=account.id) == phone
    with pytest.raises(UnsealableValue):  # a value copied to another account does not open
        personal.unseal("phone", account.phone_sealed, account_id=new_id())


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Short1!", "too_short"),
        ("13800000000", "contains_phone"),
        ("my13800000000", "contains_phone"),
        ("password1", "too_common"),
        ("PassWord1", "too_common"),
        ("woaini1314", "too_common"),
    ],
)
async def test_a_password_outside_the_policy_is_refused_with_the_reason_before_the_code(
    client: httpx.AsyncClient,
    journey: Journey,
    outbox: SmsOutbox,
    problem: Problem,
    password: str,
    reason: str,
) -> None:
    await journey.ask_code("13800000000")
    code = outbox.last_code("13800000000")
    response = await client.post(
        "/identity/v1/citizens", json={"phone": "13800000000", "password": password, "code": code}
    )
    body = problem(response, 422, "weak_password")
    assert body["reason"] == reason
    assert password not in response.text
    # The code was not tried: it registers the phone with a better password.
    assert (await register(client, "13800000000", code)).status_code == 201


@pytest.mark.parametrize(
    "phone",
    ["12800000000", "1380000000", "138000000001", "+8613800000000", "138-0000-000", "1380000000x"],
)
async def test_a_phone_that_is_not_a_mainland_mobile_number_is_refused(
    client: httpx.AsyncClient, problem: Problem, phone: str
) -> None:
    body = problem(await register(client, phone, "123456"), 422, "validation_failed")
    assert [error["field"] for error in body["errors"]] == ["body.phone"]


async def test_only_the_phones_holder_learns_that_it_is_registered_and_her_code_signs_her_in(
    client: httpx.AsyncClient,
    journey: Journey,
    outbox: SmsOutbox,
    resend_allowed: ResendAllowed,
    problem: Problem,
) -> None:
    phone = await journey.register()
    await resend_allowed(phone)
    await journey.ask_code(phone)
    code = outbox.last_code(phone)
    problem(await register(client, phone, code), 409, "phone_already_registered")
    signed_in = await client.post(
        "/identity/v1/token", data={"grant_type": "sms_code", "username": phone, "code": code}
    )
    assert signed_in.status_code == 200, signed_in.text


def comparable(response: httpx.Response) -> tuple[int, str | None, dict[str, Any]]:
    """Status, content type and body, but for what differs between any two requests."""
    body = response.json()
    body.pop("request_id", None)
    return response.status_code, response.headers.get("content-type"), body


@pytest.mark.parametrize("asked_for_a_code", [True, False], ids=["code sent", "no code sent"])
@pytest.mark.parametrize(
    ("code", "status", "problem_code"),
    [
        (None, 422, "validation_failed"),
        ("", 422, "validation_failed"),
        ("000000x", 400, "invalid_sms_code"),
        ("12345678901234567", 422, "validation_failed"),
    ],
    ids=["without a code", "an empty code", "a wrong code", "an overlong code"],
)
async def test_without_a_valid_code_a_registered_phone_is_answered_as_an_unregistered_one(
    client: httpx.AsyncClient,
    journey: Journey,
    resend_allowed: ResendAllowed,
    problem: Problem,
    asked_for_a_code: bool,
    code: str | None,
    status: int,
    problem_code: str,
) -> None:
    registered, unregistered = await journey.register(), journey.new_phone()
    if asked_for_a_code:
        await resend_allowed(registered)
        for phone in (registered, unregistered):
            assert (await journey.ask_code(phone)).status_code == 202

    answers = [await register(client, phone, code) for phone in (registered, unregistered)]

    for answer in answers:
        problem(answer, status, problem_code)
    assert comparable(answers[0]) == comparable(answers[1])


async def test_a_code_sent_to_another_phone_is_refused_alike(
    client: httpx.AsyncClient, journey: Journey, outbox: SmsOutbox, problem: Problem
) -> None:
    registered, unregistered, own = await journey.register(), journey.new_phone(), "13911110000"
    await journey.ask_code(own)
    answers = [
        await register(client, phone, outbox.last_code(own)) for phone in (registered, unregistered)
    ]
    for answer in answers:
        problem(answer, 400, "invalid_sms_code")
    assert comparable(answers[0]) == comparable(answers[1])


async def test_wrong_codes_at_registration_spend_the_code_as_wrong_codes_at_sign_in_do(
    identity_settings: IdentitySettings,
    start_app: AppStarter,
    journey: Journey,
    outbox: SmsOutbox,
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
            code = outbox.last_code(phone)
            wrong = f"{(int(code) + 1) % 1_000_000:06d}"
            for _ in range(lax.sms_code_max_attempts):
                problem(await register(client, phone, wrong), 400, "invalid_sms_code")
            problem(await register(client, phone, code), 400, "invalid_sms_code")
            signed_in = await client.post(
                "/identity/v1/token",
                data={"grant_type": "sms_code", "username": phone, "code": code},
            )
            problem(signed_in, 400, "invalid_grant")


@pytest.mark.parametrize("registered", [True, False], ids=["registered", "unregistered"])
async def test_wrong_codes_at_registration_count_as_failed_sign_ins(
    client: httpx.AsyncClient,
    journey: Journey,
    resend_allowed: ResendAllowed,
    identity_settings: IdentitySettings,
    from_address: FromAddress,
    problem: Problem,
    registered: bool,
) -> None:
    phone = await journey.register() if registered else journey.new_phone()
    await resend_allowed(phone)
    await journey.ask_code(phone)
    there = from_address("203.0.113.7")
    for _ in range(identity_settings.login_throttling["login_and_address"].free_failures - 1):
        problem(await register(client, phone, "000000x", **there), 400, "invalid_sms_code")
    problem(await register(client, phone, "000000x", **there), 429, "login_throttled")
    sign_in = await client.post(
        "/identity/v1/token",
        data={"grant_type": "sms_code", "username": phone, "code": "000000"},
        headers=from_address("203.0.113.7"),
    )
    problem(sign_in, 429, "login_throttled")


async def test_a_new_account_sees_itself_at_level_1_without_a_real_name(
    client: httpx.AsyncClient, journey: Journey
) -> None:
    tokens = await journey.signed_in()
    response = await client.get("/identity/v1/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["typ"] == "citizen"
    assert me["phone_masked"].startswith("138****")
    assert (me["loa"], me["real_name"], me["face_verified_until"]) == (1, None, None)
