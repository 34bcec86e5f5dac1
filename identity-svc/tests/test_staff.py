"""Staff accounts: belong to a department the catalog knows, carry roles, are created by an
administrator of the same tier or higher (the first platform administrator is seeded); each gets
a staff number (工号) by its department's region; their tokens carry ``typ`` staff, ``dept``,
``roles`` and ``staff_no``. The same administrators list them, change
their roles at the version they read and disable them, every change in an audit trail; staff
sessions last hours."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Journey, MovableClock

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


async def test_each_staff_account_gets_the_next_staff_number_of_its_departments_region(
    journey: Journey, platform_admin: str
) -> None:
    wenzhou_civil_affairs = "330300-civil_affairs"
    numbers = []
    for phone, dept in (
        ("13700000020", LUCHENG_POLICE),
        ("13700000021", LONGWAN_POLICE),
        ("13700000022", wenzhou_civil_affairs),
    ):
        response = await journey.create_staff(platform_admin, phone, ["handler"], dept)
        assert response.status_code == 201, response.text
        numbers.append(response.json()["staff_no"])
    assert numbers == ["330302-0001", "330303-0001", "330300-0001"]
    response = await journey.create_staff(
        platform_admin, "13700000023", ["supervisor"], LUCHENG_POLICE
    )
    assert response.json()["staff_no"] == "330302-0002"
    login = await journey.login("13700000023", STAFF_PASSWORD)
    claims = await journey.claims(login.json()["access_token"])
    assert claims["staff_no"] == "330302-0002"
    # The seeded platform administrator belongs to no department's region.
    assert (await journey.claims(platform_admin))["staff_no"] == "000000-0001"


async def test_staff_created_at_once_never_share_a_number(
    journey: Journey, platform_admin: str
) -> None:
    responses = await asyncio.gather(
        *(
            journey.create_staff(platform_admin, f"1370000003{n}", ["handler"], LUCHENG_POLICE)
            for n in range(5)
        )
    )
    assert [response.status_code for response in responses] == [201] * 5
    assert len({response.json()["staff_no"] for response in responses}) == 5


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


# The lifecycle after creation -------------------------------------------------------------


async def test_a_department_unknown_to_the_catalog_is_refused(
    journey: Journey, platform_admin: str, problem: Problem
) -> None:
    refused = await journey.create_staff(
        platform_admin, "13700000050", ["handler"], "330302-space_agency"
    )
    assert problem(refused, 422, "unknown_department")["dept"] == "330302-space_agency"


async def test_a_platform_admin_lists_every_staff_account_and_a_department_admin_theirs(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str
) -> None:
    department_admin = await journey.staff_token(
        platform_admin, "13700000051", ["department_admin"], LUCHENG_POLICE
    )
    for phone, dept in [("13700000052", LUCHENG_POLICE), ("13700000053", LONGWAN_POLICE)]:
        assert (await journey.create_staff(platform_admin, phone, ["handler"], dept)).is_success

    async def every_page(token: str) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            page = await client.get("/identity/v1/staff", params=params, headers=bearer(token))
            assert page.status_code == 200, page.text
            listed += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return listed

    everyone = await every_page(platform_admin)
    assert [s["phone_masked"] for s in everyone] == [
        "137****0001",
        "137****0051",
        "137****0052",
        "137****0053",
    ]
    theirs = await every_page(department_admin)
    assert [s["phone_masked"] for s in theirs] == ["137****0051", "137****0052"]


async def test_roles_change_at_the_version_read_and_old_tokens_give_way_to_new_roles(
    client: httpx.AsyncClient,
    journey: Journey,
    platform_admin: str,
    problem: Problem,
    clock: MovableClock,
) -> None:
    created = await journey.create_staff(platform_admin, "13700000060", ["handler"], LUCHENG_POLICE)
    path = f"/identity/v1/staff/{created.json()['id']}"
    tokens = (await journey.login("13700000060", STAFF_PASSWORD)).json()
    read = await client.get(path, headers=bearer(platform_admin))
    etag = read.headers["etag"]
    change = {"roles": ["handler", "supervisor"]}

    problem(
        await client.put(f"{path}/roles", json=change, headers=bearer(platform_admin)),
        428,
        "precondition_required",
    )
    changed = await client.put(
        f"{path}/roles", json=change, headers={**bearer(platform_admin), "If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["handler", "supervisor"]
    assert changed.headers["etag"] != etag
    stale = await client.put(
        f"{path}/roles",
        json={"roles": ["handler"]},
        headers={**bearer(platform_admin), "If-Match": etag},
    )
    assert problem(stale, 412, "precondition_failed")["current_etag"] == changed.headers["etag"]

    # The token with the old roles is refused; the session lives on with the new ones.
    for _ in range(100):
        if (
            await client.get("/identity/v1/me", headers=bearer(tokens["access_token"]))
        ).status_code == 401:
            break
        await asyncio.sleep(0.02)
    problem(
        await client.get("/identity/v1/me", headers=bearer(tokens["access_token"])),
        401,
        "token_revoked",
    )
    clock.advance(1)  # a token of the same second as the change is covered by it
    refreshed = await journey.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    claims = await journey.claims(refreshed.json()["access_token"], check_times=False)
    assert claims["roles"] == ["handler", "supervisor"]

    trail = await client.get(f"{path}/audit-trail", headers=bearer(platform_admin))
    assert [(e["action"], e["details"]) for e in trail.json()["items"]] == [
        ("staff.created", {"dept": LUCHENG_POLICE, "roles": ["handler"]}),
        (
            "staff.roles_changed",
            {"roles": {"before": ["handler"], "after": ["handler", "supervisor"]}},
        ),
    ]


@pytest.mark.parametrize(
    ("held", "wanted", "code"),
    [
        (["data_steward"], ["handler"], "role_beyond_tier"),  # taking away a role above theirs
        (["handler"], ["catalog_admin"], "role_beyond_tier"),  # granting one
    ],
)
async def test_a_department_admin_changes_roles_only_within_their_tier(
    client: httpx.AsyncClient,
    journey: Journey,
    platform_admin: str,
    problem: Problem,
    held: list[str],
    wanted: list[str],
    code: str,
) -> None:
    department_admin = await journey.staff_token(
        platform_admin, "13700000061", ["department_admin"], LUCHENG_POLICE
    )
    created = await journey.create_staff(platform_admin, "13700000062", held, LUCHENG_POLICE)
    path = f"/identity/v1/staff/{created.json()['id']}"
    etag = (await client.get(path, headers=bearer(department_admin))).headers["etag"]
    refused = await client.put(
        f"{path}/roles",
        json={"roles": wanted},
        headers={**bearer(department_admin), "If-Match": etag},
    )
    problem(refused, 403, code)


async def test_a_department_admin_does_not_see_another_departments_staff(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str, problem: Problem
) -> None:
    department_admin = await journey.staff_token(
        platform_admin, "13700000063", ["department_admin"], LUCHENG_POLICE
    )
    other = await journey.create_staff(platform_admin, "13700000064", ["handler"], LONGWAN_POLICE)
    path = f"/identity/v1/staff/{other.json()['id']}"
    problem(await client.get(path, headers=bearer(department_admin)), 404, "staff_not_found")
    problem(
        await client.post(f"{path}/disable", headers=bearer(department_admin)),
        404,
        "staff_not_found",
    )


async def test_disabling_a_staff_account_ends_every_session_at_once(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str, problem: Problem
) -> None:
    created = await journey.create_staff(platform_admin, "13700000070", ["handler"], LUCHENG_POLICE)
    staff_id = created.json()["id"]
    sessions = [(await journey.login("13700000070", STAFF_PASSWORD)).json() for _ in range(2)]

    disabled = await client.post(
        f"/identity/v1/staff/{staff_id}/disable", headers=bearer(platform_admin)
    )
    assert disabled.status_code == 200, disabled.text
    again = await client.post(
        f"/identity/v1/staff/{staff_id}/disable", headers=bearer(platform_admin)
    )
    assert again.json()["disabled_at"] == disabled.json()["disabled_at"]

    listed = (await client.get("/identity/v1/revocations")).json()["items"]
    for tokens in sessions:
        sid = (await journey.claims(tokens["access_token"]))["sid"]
        assert sid in [entry["id"] for entry in listed]
        problem(await journey.refresh(tokens["refresh_token"]), 400, "invalid_grant")
    problem(await journey.login("13700000070", STAFF_PASSWORD), 400, "account_disabled")
    etag = disabled.headers["etag"]
    problem(
        await client.put(
            f"/identity/v1/staff/{staff_id}/roles",
            json={"roles": ["supervisor"]},
            headers={**bearer(platform_admin), "If-Match": etag},
        ),
        409,
        "staff_disabled",
    )
    trail = await client.get(
        f"/identity/v1/staff/{staff_id}/audit-trail", headers=bearer(platform_admin)
    )
    actions = [(e["action"], e["actor_id"]) for e in trail.json()["items"]]
    admin_id = (await journey.claims(platform_admin))["sub"]
    assert actions == [("staff.created", admin_id), ("staff.disabled", admin_id)]


async def test_an_administrator_does_not_change_or_disable_their_own_account(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str, problem: Problem
) -> None:
    own = f"/identity/v1/staff/{(await journey.claims(platform_admin))['sub']}"
    etag = (await client.get(own, headers=bearer(platform_admin))).headers["etag"]
    problem(await client.post(f"{own}/disable", headers=bearer(platform_admin)), 403, "own_account")
    problem(
        await client.put(
            f"{own}/roles",
            json={"roles": ["handler"]},
            headers={**bearer(platform_admin), "If-Match": etag},
        ),
        403,
        "own_account",
    )


async def test_staff_sessions_last_hours_where_a_citizens_last_a_month(
    journey: Journey, platform_admin: str, problem: Problem, clock: MovableClock
) -> None:
    assert (
        await journey.create_staff(platform_admin, "13700000080", ["handler"], LUCHENG_POLICE)
    ).is_success
    staff = (await journey.login("13700000080", STAFF_PASSWORD)).json()
    citizen = await journey.signed_in()

    clock.advance(13 * 3600)

    problem(await journey.refresh(staff["refresh_token"]), 400, "invalid_grant")
    assert (await journey.refresh(citizen["refresh_token"])).status_code == 200
