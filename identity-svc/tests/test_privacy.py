"""Logs never hold personal data: the service's whole flow — registration (and its wrong
codes), failed and good logins (password and SMS code, which registers a new phone), real-name
and face verification (mismatches too, and a take-over of a real name by another account, told
by SMS), the verified identity read in full, delegation (to a phone with no account too) and its
token exchange, sessions, logout, malformed requests — runs with every log line captured, and no
phone number, ID number, name or password of its people appears in any line."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import sys
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from identity_svc.settings import IdentitySettings
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import AppStarter, Journey, People

PASSWORD = "Songtai-2026!"


def spellings(value: str) -> set[str]:
    """A value as it could appear in a log line: as is, and JSON-escaped (``\\u6797``...)."""
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


async def run_the_whole_flow(journey: Journey, people: People) -> list[str]:
    """Every step identity-svc offers, good and bad; returns the phones it used."""
    client = journey.client
    grandmother_phone, grandson_phone = journey.new_phone(), journey.new_phone()
    await journey.register(grandmother_phone)
    await journey.register(grandson_phone)
    weak = await client.post(
        "/identity/v1/citizens",
        json={"phone": "13911112222", "password": "13911112222", "code": "123456"},
    )
    assert weak.status_code == 422
    malformed = await client.post(
        "/identity/v1/citizens",
        json={"phone": "139111122229", "password": PASSWORD, "code": "123456"},
    )
    assert malformed.status_code == 422
    wrong_registration = await client.post(
        "/identity/v1/citizens",
        json={"phone": grandson_phone, "password": PASSWORD, "code": "000000x"},
    )
    assert wrong_registration.status_code == 400
    assert (await journey.login(grandmother_phone, "wrong-password")).status_code == 400
    assert (await journey.login("13911112222")).status_code == 400

    # A phone with no account: a code, a wrong one tried, then the sign-in that registers it.
    texted_phone = journey.new_phone()
    asked = await journey.ask_code(texted_phone)
    assert asked.status_code == 202
    wrong_code = await client.post(
        "/identity/v1/token",
        data={"grant_type": "sms_code", "username": texted_phone, "code": "000000x"},
    )
    assert wrong_code.status_code == 400
    signed_up = await client.post(
        "/identity/v1/token",
        data={
            "grant_type": "sms_code",
            "username": texted_phone,
            "code": journey.outbox.last_code(texted_phone),
        },
    )
    assert signed_up.status_code == 200

    grandmother = (await journey.login(grandmother_phone)).json()
    grandson = (await journey.login(grandson_phone)).json()
    mismatch = await journey.real_name(
        grandmother["access_token"], type(people.lin)(people.wang.name, people.lin.id_number, "", 0)
    )
    assert mismatch.status_code == 422
    invalid = await client.post(
        "/identity/v1/me/real-name",
        json={"name": people.lin.name, "id_number": people.lin.id_number[:-1] + "9"},
        headers=bearer(grandmother["access_token"]),
    )
    assert invalid.status_code == 422
    claimed = await journey.real_name(grandmother["access_token"], people.lin)
    assert claimed.status_code == 200
    token = grandmother["access_token"]

    challenge = (await journey.challenge(token)).json()["challenge_id"]
    failed = await journey.verify_face(token, challenge, people.chen.face_template())
    assert failed.status_code == 422
    challenge = (await journey.challenge(token)).json()["challenge_id"]
    matched = await journey.verify_face(token, challenge, people.lin.phone_capture())
    assert matched.status_code == 200
    token = matched.json()["access_token"]
    assert (await client.get("/identity/v1/me", headers=bearer(token))).status_code == 200
    unmasked = await client.get("/identity/v1/me/verified-identity", headers=bearer(token))
    assert unmasked.json()["id_number"] == people.lin.id_number

    delegation = await client.post(
        "/identity/v1/me/delegations",
        json={
            "delegate_phone": grandson_phone,
            "valid_until": (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat(),
        },
        headers=bearer(token),
    )
    assert delegation.status_code == 201, delegation.text
    unknown = await client.post(
        "/identity/v1/me/delegations",
        json={
            "delegate_phone": "13911113333",
            "valid_until": (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat(),
        },
        headers=bearer(token),
    )
    assert unknown.status_code == 201  # a delegation to a phone with no account (yet)
    acting = await client.post(
        "/identity/v1/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject": delegation.json()["id"],
            "actor_token": grandson["access_token"],
        },
    )
    assert acting.status_code == 200
    for_her = await client.get(
        "/identity/v1/me/verified-identity", headers=bearer(acting.json()["access_token"])
    )
    assert for_her.json()["name"] == people.lin.name
    assert (await client.get("/identity/v1/me/delegations", headers=bearer(token))).is_success
    sessions = await client.get("/identity/v1/me/sessions", headers=bearer(token))
    assert sessions.is_success
    path = f"/identity/v1/me/delegations/{delegation.json()['id']}"
    assert (await client.delete(path, headers=bearer(token))).status_code == 204
    refreshed = await journey.refresh(grandson["refresh_token"])
    assert refreshed.status_code == 200
    assert (await journey.refresh(grandson["refresh_token"])).status_code == 400  # replay
    # The replay ended his session, and its access tokens with it once the revocation list is
    # next read (every two seconds): he signs in afresh rather than race that poll.
    grandson = (await journey.login(grandson_phone)).json()
    changed = await client.put(
        "/identity/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "Ouyang-Road-77"},
        headers=bearer(grandson["access_token"]),
    )
    assert changed.status_code == 204
    logout = await client.post(
        "/identity/v1/logout", data={"refresh_token": grandmother["refresh_token"]}
    )
    assert logout.status_code == 204
    # Her other phone's account takes her real name over; the grandmother's phone is told.
    other_phone = journey.new_phone()
    await journey.register(other_phone)
    other = (await journey.login(other_phone)).json()
    await journey.bound(other["access_token"], people.lin)
    return [
        grandmother_phone,
        grandson_phone,
        other_phone,
        texted_phone,
        "13911112222",
        "139111122229",
        "13911113333",
    ]


async def test_no_log_line_holds_a_phone_number_an_id_number_a_name_or_a_password(
    identity_settings: IdentitySettings,
    start_app: AppStarter,
    journey: Journey,
    people: People,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The service logs to stderr (structlog's PrintLogger binds it when the app starts): here
    # a buffer, at the most verbose level; the standard library's records are captured too.
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    caplog.set_level(logging.DEBUG)
    verbose = identity_settings.model_copy(update={"log_level": "DEBUG"})
    async with start_app(verbose) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            journey.client = client
            phones = await run_the_whole_flow(journey, people)

    lines = buffer.getvalue().splitlines() + caplog.text.splitlines()
    records: list[dict[str, Any]] = [json.loads(line) for line in buffer.getvalue().splitlines()]
    # The capture works: one access-log line per request at least.
    assert sum(record.get("message") == "request" for record in records) >= 25
    everyone = (people.lin, people.wang, people.chen)
    secrets = [*phones, PASSWORD, "Ouyang-Road-77"]
    secrets += [person.id_number for person in everyone]
    secrets += [person.name for person in everyone]
    leaks = {
        spelling
        for secret in secrets
        for spelling in spellings(secret)
        for line in lines
        if spelling in line
    }
    assert not leaks
