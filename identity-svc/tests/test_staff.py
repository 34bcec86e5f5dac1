"""Staff accounts: belong to a catalog department, carry roles, are created by an administrator
of the same tier or higher (the first platform administrator is seeded); their tokens carry
``typ`` staff, ``dept`` and ``roles``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Journey

STAFF_PASSWORD = "Staff-Pass-2026"  # conftest's: every staff account made here

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
LUCHENG_POLICE = "330302-public_security"
LONGWAN_POLICE = "330303-public_security"


async def test_the_seeded_platform_admin_signs_in_as_staff(
    journey: Journey, platform_admin: str
) -> None:
    claims = await journey.claims(platform_admin)
    assert (claims["typ"], claims["roles"]) == ("staff", ["platform_admin"])
    assert "dept" not in claims


async def test_a_staff_token_carries_the_department_and_roles(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str
) -> None:
    response = await journey.create_staff(
        platform_admin, "13700000002", ["supervisor", "handler"], LUCHENG_POLICE
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["phone_masked"] == "137****0002"
    assert (body["dept"], body["roles"]) == (LUCHENG_POLICE, ["handler", "supervisor"])
    login = await journey.login("13700000002", STAFF_PASSWORD)
    claims = await journey.claims(login.json()["access_token"])
    assert claims["typ"] == "staff"
    assert claims["dept"] == LUCHENG_POLICE
    assert claims["roles"] == ["handler", "supervisor"]
    assert claims["loa"] == 1


@pytest.mark.parametrize(
    ("phone", "roles", "dept", "status", "code"),
    [
        ("13700000010", ["handler"], LUCHENG_POLICE, 201, None),
        ("13700000011", ["department_admin"], LUCHENG_POLICE, 201, None),
        ("13700000012", ["handler"], LONGWAN_POLICE, 403, "other_department"),
        ("13700000013", ["catalog_admin"], LUCHENG_POLICE, 403, "role_beyond_tier"),
        ("13700000016", ["data_steward"], LUCHENG_POLICE, 403, "role_beyond_tier"),
        ("13700000014", ["platform_admin"], None, 403, "role_beyond_tier"),
        ("13700000015", ["handler"], None, 422, "department_required"),
    ],
)
async def test_a_department_admin_creates_department_tier_staff_of_their_own_department(
    client: httpx.AsyncClient,
    journey: Journey,
    platform_admin: str,
    problem: Problem,
    phone: str,
    roles: list[str],
    dept: str | None,
    status: int,
    code: str | None,
) -> None:
    department_admin = await journey.staff_token(
        platform_admin, "13700000003", ["department_admin"], LUCHENG_POLICE
    )
    response = await journey.create_staff(department_admin, phone, roles, dept)
    if code is None:
        assert response.status_code == status, response.text
        assert response.json()["created_by"] == (await journey.claims(department_admin))["sub"]
    else:
        problem(response, status, code)


async def test_the_platform_admin_creates_any_staff_anywhere(
    journey: Journey, platform_admin: str
) -> None:
    for phone, roles, dept in [
        ("13700000020", ["catalog_admin"], LUCHENG_POLICE),
        ("13700000021", ["platform_admin"], None),
        ("13700000022", ["department_admin"], LONGWAN_POLICE),
        ("13700000023", ["data_steward"], LONGWAN_POLICE),
    ]:
        assert (await journey.create_staff(platform_admin, phone, roles, dept)).status_code == 201


async def test_non_administrators_cannot_create_staff(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str, problem: Problem
) -> None:
    handler = await journey.staff_token(
        platform_admin, "13700000004", ["handler", "supervisor"], LUCHENG_POLICE
    )
    problem(
        await journey.create_staff(handler, "13700000030", ["handler"], LUCHENG_POLICE),
        403,
        "staff_admin_required",
    )
    citizen = await journey.signed_in()
    problem(
        await journey.create_staff(
            citizen["access_token"], "13700000031", ["handler"], LUCHENG_POLICE
        ),
        403,
        "wrong_principal_type",
    )


@pytest.mark.parametrize(
    "change",
    [{"roles": ["root"]}, {"roles": []}, {"dept": "public security"}, {"phone": "123"}],
)
async def test_a_malformed_staff_account_is_refused(
    client: httpx.AsyncClient, platform_admin: str, problem: Problem, change: dict[str, Any]
) -> None:
    body: dict[str, Any] = {
        "phone": "13700000040",
        "password": STAFF_PASSWORD,
        "roles": ["handler"],
        "dept": LUCHENG_POLICE,
        **change,
    }
    response = await client.post("/identity/v1/staff", json=body, headers=bearer(platform_admin))
    problem(response, 422, "validation_failed")


async def test_a_catalog_admin_belongs_to_a_department_whose_items_they_edit(
    journey: Journey, platform_admin: str, problem: Problem
) -> None:
    problem(
        await journey.create_staff(platform_admin, "13700000041", ["catalog_admin"], None),
        422,
        "department_required",
    )
    token = await journey.staff_token(
        platform_admin, "13700000042", ["catalog_admin"], LUCHENG_POLICE
    )
    claims = await journey.claims(token)
    assert (claims["roles"], claims["dept"]) == (["catalog_admin"], LUCHENG_POLICE)


async def test_a_phone_already_registered_cannot_become_a_staff_login(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str, problem: Problem
) -> None:
    phone = await journey.register()
    problem(
        await journey.create_staff(platform_admin, phone, ["handler"], LUCHENG_POLICE),
        409,
        "phone_already_registered",
    )


async def test_a_staff_creation_retried_with_its_key_is_one_account(
    client: httpx.AsyncClient, platform_admin: str
) -> None:
    body = {"phone": "13700000030", "password": STAFF_PASSWORD, "roles": ["handler"]}
    body["dept"] = LUCHENG_POLICE
    keyed = {**bearer(platform_admin), "Idempotency-Key": "staff-creation-0001"}

    first = await client.post("/identity/v1/staff", json=body, headers=keyed)
    retry = await client.post("/identity/v1/staff", json=body, headers=keyed)
    unkeyed = await client.post("/identity/v1/staff", json=body, headers=bearer(platform_admin))

    assert first.status_code == retry.status_code == 201, first.text
    assert retry.json() == first.json()
    assert retry.headers["idempotency-replayed"] == "true"
    assert unkeyed.status_code == 409  # the phone is that account's already
