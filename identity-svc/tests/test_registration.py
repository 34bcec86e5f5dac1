"""Registering a citizen: phone and password, the password policy, one account per phone, and
personal identifiers that never sit in clear."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from identity_svc.models import Account
from identity_svc.sealing import SealBroken
from servicekit.ids import new_id
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Journey

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


async def test_a_citizen_registers_with_a_phone_and_a_password_at_level_1(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/identity/v1/citizens", json={"phone": "13800000000", "password": "Songtai-2026!"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["phone_masked"] == "138****0000"
    assert body["loa"] == 1
    assert set(body) == {"id", "phone_masked", "loa"}


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
    with pytest.raises(SealBroken):  # a ciphertext copied to another account does not open
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
async def test_a_password_outside_the_policy_is_refused_with_the_reason(
    client: httpx.AsyncClient, problem: Problem, password: str, reason: str
) -> None:
    response = await client.post(
        "/identity/v1/citizens", json={"phone": "13800000000", "password": password}
    )
    body = problem(response, 422, "weak_password")
    assert body["reason"] == reason
    assert password not in response.text


@pytest.mark.parametrize(
    "phone",
    ["12800000000", "1380000000", "138000000001", "+8613800000000", "138-0000-000", "1380000000x"],
)
async def test_a_phone_that_is_not_a_mainland_mobile_number_is_refused(
    client: httpx.AsyncClient, problem: Problem, phone: str
) -> None:
    response = await client.post(
        "/identity/v1/citizens", json={"phone": phone, "password": "Songtai-2026!"}
    )
    body = problem(response, 422, "validation_failed")
    assert [error["field"] for error in body["errors"]] == ["body.phone"]


async def test_a_phone_registers_only_once(
    client: httpx.AsyncClient, journey: Journey, problem: Problem
) -> None:
    phone = await journey.register()
    response = await client.post(
        "/identity/v1/citizens", json={"phone": phone, "password": "Another-pass-99"}
    )
    problem(response, 409, "phone_already_registered")


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
