"""OAuth clients: administrators register department systems and internal services, the secret
is shown once and stored hashed, rotating it keeps the previous one working for an overlap (no
downtime), and a disabled client gets no new token."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from pydantic import SecretStr

from identity_svc.models import OAuthClient
from servicekit.service_tokens import ClientCredentials, ServiceTokenUnavailable
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Journey, MovableClock
    from fastapi import FastAPI

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
LUCHENG_POLICE = "330302-public_security"
LONGWAN_POLICE = "330303-public_security"


def basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


async def client_token(client: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await client.post(
        "/identity/v1/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, secret),
    )


async def register(client: httpx.AsyncClient, token: str, **body: Any) -> httpx.Response:
    return await client.post("/identity/v1/clients", json=body, headers=bearer(token))


async def test_a_registered_department_system_signs_in_with_the_secret_shown_once(
    app: FastAPI, client: httpx.AsyncClient, journey: Journey, platform_admin: str
) -> None:
    registered = await register(
        client,
        platform_admin,
        name="鹿城区公安分局户政系统",
        typ="department_system",
        dept=LUCHENG_POLICE,
        scopes=["cases:read", "exchange:calls"],
    )
    assert registered.status_code == 201, registered.text
    body = registered.json()
    assert body["client_id"].startswith("ds-330302-public-security-")
    secret = body["client_secret"]

    token = await client_token(client, body["client_id"], secret)
    assert token.status_code == 200, token.text
    claims = await journey.claims(token.json()["access_token"])
    assert (claims["typ"], claims["dept"], claims["scope"]) == (
        "department_system",
        LUCHENG_POLICE,
        "cases:read exchange:calls",
    )
    # Kept only as a hash; never listed.
    async with app.state.service.database.sessionmaker() as session:
        stored = await session.get(OAuthClient, body["client_id"])
        assert stored is not None
        assert secret not in stored.secret_hash
    listed = await client.get("/identity/v1/clients", headers=bearer(platform_admin))
    assert "client_secret" not in listed.text
    assert body["client_id"] in {item["client_id"] for item in listed.json()["items"]}


async def test_rotating_the_secret_keeps_the_previous_one_working_until_the_overlap_ends(
    client: httpx.AsyncClient, platform_admin: str, clock: MovableClock, problem: Problem
) -> None:
    registered = (
        await register(client, platform_admin, name="case-svc", typ="service", client_id="case-svc")
    ).json()
    old = registered["client_secret"]
    rotated = await client.post(
        "/identity/v1/clients/case-svc/secret", headers=bearer(platform_admin)
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["client_secret"]
    assert new != old
    assert rotated.json()["previous_secret_expires_at"]

    for secret in (old, new):  # both work during the overlap
        assert (await client_token(client, "case-svc", secret)).status_code == 200
    clock.advance(24 * 3600 + 1)
    problem(await client_token(client, "case-svc", old), 401, "invalid_client")
    assert (await client_token(client, "case-svc", new)).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"typ": "department_system", "dept": LUCHENG_POLICE}, 201, None),
        ({"typ": "department_system", "dept": LONGWAN_POLICE}, 403, "other_department"),
        ({"typ": "service"}, 403, "staff_admin_required"),
    ],
)
async def test_a_department_administrator_registers_their_own_departments_systems_only(
    client: httpx.AsyncClient,
    journey: Journey,
    platform_admin: str,
    problem: Problem,
    body: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    department_admin = await journey.staff_token(
        platform_admin, "13700000050", ["department_admin"], LUCHENG_POLICE
    )
    response = await register(client, department_admin, name="户政系统", **body)
    if code is None:
        assert response.status_code == status, response.text
    else:
        problem(response, status, code)


async def test_a_department_system_needs_a_department_and_ids_are_unique(
    client: httpx.AsyncClient, platform_admin: str, problem: Problem
) -> None:
    problem(
        await register(client, platform_admin, name="x", typ="department_system"),
        422,
        "department_required",
    )
    assert (
        await register(client, platform_admin, name="x", typ="service", client_id="rating-svc")
    ).status_code == 201
    problem(
        await register(client, platform_admin, name="x", typ="service", client_id="rating-svc"),
        409,
        "client_exists",
    )


async def test_citizens_and_handlers_manage_no_clients(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str, problem: Problem
) -> None:
    citizen = (await journey.signed_in())["access_token"]
    problem(await register(client, citizen, name="x", typ="service"), 403, "wrong_principal_type")
    handler = await journey.staff_token(platform_admin, "13700000051", ["handler"], LUCHENG_POLICE)
    problem(await register(client, handler, name="x", typ="service"), 403, "staff_admin_required")


async def test_a_disabled_client_gets_no_new_token(
    client: httpx.AsyncClient, platform_admin: str, problem: Problem
) -> None:
    registered = (
        await register(client, platform_admin, name="x", typ="service", client_id="old-svc")
    ).json()
    disabled = await client.delete("/identity/v1/clients/old-svc", headers=bearer(platform_admin))
    assert disabled.status_code == 204
    problem(
        await client_token(client, "old-svc", registered["client_secret"]), 401, "invalid_client"
    )
    problem(
        await client.post("/identity/v1/clients/no-such/secret", headers=bearer(platform_admin)),
        404,
        "client_not_found",
    )


async def test_a_service_keeps_its_client_credentials_token_until_shortly_before_it_expires(
    client: httpx.AsyncClient, platform_admin: str
) -> None:
    """The kit's ClientCredentials, against this token endpoint: one grant, kept, renewed a
    margin before its expiry; refused credentials are ServiceTokenUnavailable."""
    registered = (await register(client, platform_admin, name="case-svc", typ="service")).json()
    now = [0.0]
    token = ClientCredentials(
        client,
        client_id=registered["client_id"],
        client_secret=SecretStr(registered["client_secret"]),
        renew_before_seconds=60,
        clock=lambda: now[0],
    )

    first = await token()
    claims = jwt.decode(first, options={"verify_signature": False})
    now[0] += claims["exp"] - claims["iat"] - 61
    kept = await token()
    now[0] += 2
    renewed = await token()

    assert kept == first
    assert renewed != first
    assert (claims["typ"], claims["sub"]) == ("service", registered["client_id"])
    wrong = ClientCredentials(
        client, client_id=registered["client_id"], client_secret=SecretStr("x" * 40)
    )
    with pytest.raises(ServiceTokenUnavailable):
        await wrong()


async def test_the_clients_list_pages_by_id_with_a_cursor_for_its_administrator_alone(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str, problem: Problem
) -> None:
    for name in ("甲系统", "乙系统", "丙系统"):
        registered = await register(
            client, platform_admin, name=name, typ="department_system", dept=LUCHENG_POLICE
        )
        assert registered.status_code == 201, registered.text

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = await client.get(
            "/identity/v1/clients", params=params, headers=bearer(platform_admin)
        )
        assert page.status_code == 200, page.text
        seen += [item["client_id"] for item in page.json()["items"]]
        if page.json()["next_cursor"] is None:
            break
        params["cursor"] = page.json()["next_cursor"]

    assert len(seen) >= 3
    assert seen == sorted(set(seen))
    lucheng_admin = await journey.staff_token(
        platform_admin, "13700000040", ["department_admin"], LUCHENG_POLICE
    )
    theirs = await client.get(
        "/identity/v1/clients", params={"cursor": params["cursor"]}, headers=bearer(lucheng_admin)
    )
    problem(theirs, 400, "invalid_cursor")


@pytest.mark.parametrize(
    ("typ", "dept", "client_id", "code"),
    [
        ("department_system", LUCHENG_POLICE, "identity-svc", "client_id_outside_namespace"),
        (
            "department_system",
            LUCHENG_POLICE,
            "ds-330303-public-security-x",
            "client_id_outside_namespace",
        ),
        (
            "department_system",
            LUCHENG_POLICE,
            "ds-330302-public-security-",
            "client_id_outside_namespace",
        ),
        ("service", None, "ds-330302-public-security-x", "client_id_outside_namespace"),
        ("service", None, "identity-svc", "client_id_outside_namespace"),
    ],
    ids=[
        "a-service-name",
        "another-department",
        "the-bare-namespace",
        "a-service-as-a-system",
        "identity-svcs-own-name",
    ],
)
async def test_a_client_id_lies_in_its_departments_namespace(
    client: httpx.AsyncClient,
    platform_admin: str,
    problem: Problem,
    typ: str,
    dept: str | None,
    client_id: str,
    code: str,
) -> None:
    refused = await register(
        client, platform_admin, name="x", typ=typ, dept=dept, client_id=client_id
    )
    problem(refused, 422, code)
    chosen = await register(
        client,
        platform_admin,
        name="x",
        typ="department_system",
        dept=LUCHENG_POLICE,
        client_id="ds-330302-public-security-hukou",
    )
    assert chosen.status_code in (201, 409), chosen.text


async def test_scopes_come_from_the_registry(
    client: httpx.AsyncClient, platform_admin: str, problem: Problem
) -> None:
    refused = await register(
        client,
        platform_admin,
        name="x",
        typ="department_system",
        dept=LUCHENG_POLICE,
        scopes=["exchange:calls", "everything"],
    )
    assert problem(refused, 422, "unknown_scope")["scopes"] == ["everything"]


async def test_a_client_token_carries_the_generation_of_the_secret_it_was_granted_with(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str
) -> None:
    registered = (await register(client, platform_admin, name="统计服务", typ="service")).json()
    client_id, first = registered["client_id"], registered["client_secret"]
    rotated = await client.post(
        f"/identity/v1/clients/{client_id}/secret", headers=bearer(platform_admin)
    )
    second = rotated.json()["client_secret"]
    for secret, generation in ((first, 1), (second, 2)):
        token = (await client_token(client, client_id, secret)).json()["access_token"]
        assert (await journey.claims(token))["sgen"] == generation


async def test_ending_a_rotations_overlap_stops_the_previous_secret_and_revokes_its_tokens(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str, problem: Problem
) -> None:
    registered = (await register(client, platform_admin, name="统计服务", typ="service")).json()
    client_id, first = registered["client_id"], registered["client_secret"]
    old_token = (await client_token(client, client_id, first)).json()["access_token"]
    rotated = await client.post(
        f"/identity/v1/clients/{client_id}/secret", headers=bearer(platform_admin)
    )
    second = rotated.json()["client_secret"]
    new_token = (await client_token(client, client_id, second)).json()["access_token"]

    ended = await client.delete(
        f"/identity/v1/clients/{client_id}/previous-secret", headers=bearer(platform_admin)
    )

    assert ended.status_code == 200, ended.text
    assert ended.json()["previous_secret_expires_at"] is None
    problem(await client_token(client, client_id, first), 401, "invalid_client")
    assert (await client_token(client, client_id, second)).status_code == 200
    listed = (await client.get("/identity/v1/revocations")).json()["items"]
    assert [(e["kind"], e["id"], e["generations_below"]) for e in listed] == [
        ("client", client_id, 2)
    ]
    # identity-svc's own verifier: the old generation's token is refused, the new one's not.
    for _ in range(100):
        old = await client.get("/identity/v1/me", headers=bearer(old_token))
        if old.status_code == 401:
            break
        await asyncio.sleep(0.02)
    problem(old, 401, "token_revoked")
    assert (await client.get("/identity/v1/me", headers=bearer(new_token))).status_code != 401
    # Ending it again: nothing left to end, nothing more listed.
    again = await client.delete(
        f"/identity/v1/clients/{client_id}/previous-secret", headers=bearer(platform_admin)
    )
    assert again.status_code == 200
    assert len((await client.get("/identity/v1/revocations")).json()["items"]) == 1


async def test_disabling_a_client_revokes_every_token_it_holds(
    client: httpx.AsyncClient, platform_admin: str
) -> None:
    registered = (await register(client, platform_admin, name="统计服务", typ="service")).json()
    client_id = registered["client_id"]
    disabled = await client.delete(
        f"/identity/v1/clients/{client_id}", headers=bearer(platform_admin)
    )
    assert disabled.status_code == 204
    listed = (await client.get("/identity/v1/revocations")).json()["items"]
    assert [(e["kind"], e["id"], e["generations_below"]) for e in listed] == [
        ("client", client_id, None)
    ]
