"""OAuth clients: administrators register department systems and internal services, the secret
is shown once and stored hashed, rotating it keeps the previous one working for an overlap (no
downtime), and a disabled client gets no new token. A portal that signs citizens in registers
its public keys (private_key_jwt) and its redirect URIs instead of holding a secret, and the app
is a public client."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from sqlalchemy import select

from identity_svc.models import AuditEvent, OAuthClient
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
    assert all("client_secret" not in item for item in listed.json()["items"])
    assert secret not in listed.text
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


def portal_jwks(**extra: Any) -> dict[str, Any]:
    """A JWK Set of one EC P-256 public key (``extra`` members added to it)."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
    return {"keys": [{**jwk, "kid": "portal-1", **extra}]}


async def test_a_portal_registers_its_public_keys_and_redirect_uris_and_gets_no_secret(
    client: httpx.AsyncClient, platform_admin: str, problem: Problem
) -> None:
    jwks = portal_jwks()
    registered = await register(
        client,
        platform_admin,
        client_id="ds-330302-public-security-portal",
        name="鹿城区公安分局网上办事大厅",
        typ="department_system",
        dept=LUCHENG_POLICE,
        auth_method="private_key_jwt",
        jwks=jwks,
        redirect_uris=["https://portal.lucheng.example.gov.cn/callback"],
        post_logout_redirect_uris=["https://portal.lucheng.example.gov.cn/"],
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["client_secret"] is None

    read = await client.get(
        "/identity/v1/clients/ds-330302-public-security-portal", headers=bearer(platform_admin)
    )
    assert read.status_code == 200, read.text
    body = read.json()
    assert "client_secret" not in body
    assert (body["auth_method"], body["jwks"], body["first_party"]) == (
        "private_key_jwt",
        jwks,
        False,
    )
    assert body["redirect_uris"] == ["https://portal.lucheng.example.gov.cn/callback"]
    assert body["post_logout_redirect_uris"] == ["https://portal.lucheng.example.gov.cn/"]
    # No secret to rotate.
    rotated = await client.post(
        "/identity/v1/clients/ds-330302-public-security-portal/secret",
        headers=bearer(platform_admin),
    )
    problem(rotated, 409, "client_without_secret")


#: A registration's defaults: a Lucheng department system with its secret.
SYSTEM = {"name": "x", "typ": "department_system", "dept": LUCHENG_POLICE}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"auth_method": "private_key_jwt"}, "jwks"),
        ({"jwks": portal_jwks()}, "jwks"),
        ({"auth_method": "private_key_jwt", "jwks": portal_jwks(d="c2VjcmV0")}, "jwks"),
        (
            {"auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
            "jwks",
        ),
        ({"auth_method": "private_key_jwt", "jwks": portal_jwks(alg="HS256")}, "jwks"),
        ({"auth_method": "private_key_jwt", "jwks": portal_jwks(use="enc")}, "jwks"),
        ({"auth_method": "private_key_jwt", "jwks": {"keys": []}}, "jwks"),
        ({"auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "EC"}]}}, "jwks"),
        ({"auth_method": "private_key_jwt", "jwks": portal_jwks(kid=["a"])}, "jwks"),
        ({"auth_method": "private_key_jwt", "jwks": {"keys": [["EC"]]}}, "jwks"),
        (
            {
                "auth_method": "private_key_jwt",
                "jwks": {"keys": portal_jwks()["keys"] + portal_jwks()["keys"]},
            },
            "jwks",
        ),
        ({"auth_method": "none"}, "auth_method"),
        ({"typ": "app", "dept": None, "auth_method": "client_secret_basic"}, "auth_method"),
    ],
    ids=[
        "private-key-jwt-without-keys",
        "keys-without-private-key-jwt",
        "a-private-key",
        "a-symmetric-key",
        "an-hmac-alg",
        "an-encryption-key",
        "an-empty-set",
        "a-malformed-key",
        "a-kid-not-a-string",
        "a-key-not-an-object",
        "two-keys-with-one-kid",
        "a-system-without-authentication",
        "an-app-with-a-secret",
    ],
)
async def test_a_clients_type_method_and_keys_go_together(
    client: httpx.AsyncClient,
    platform_admin: str,
    problem: Problem,
    body: dict[str, Any],
    field: str,
) -> None:
    refused = await register(client, platform_admin, **{**SYSTEM, **body})
    assert problem(refused, 422, "invalid_client_metadata")["field"] == field


@pytest.mark.parametrize(
    "uri",
    [
        "http://portal.lucheng.example.gov.cn/callback",
        "https://portal.lucheng.example.gov.cn/callback#fragment",
        "/callback",
        "javascript:alert(1)",
        "data:text/html,hi",
        "onevisit:/callback",
        "https://user@portal.lucheng.example.gov.cn/callback",
        "http://127.0.0.1.example.com/callback",
        "https://portal.lucheng.example.gov.cn/call back",
    ],
)
async def test_a_redirect_uri_is_https_loopback_or_a_private_use_scheme(
    client: httpx.AsyncClient, platform_admin: str, problem: Problem, uri: str
) -> None:
    for field in ("redirect_uris", "post_logout_redirect_uris"):
        refused = await register(client, platform_admin, **SYSTEM, **{field: [uri]})
        assert problem(refused, 422, "invalid_redirect_uri")["redirect_uris"] == [uri]


async def test_https_loopback_http_and_reverse_domain_schemes_are_accepted(
    client: httpx.AsyncClient, platform_admin: str
) -> None:
    uris = [
        "https://portal.lucheng.example.gov.cn/callback?from=onevisit",
        "http://127.0.0.1:8765/callback",
        "http://localhost/callback",
        "http://[::1]:8765/callback",
        "cn.gov.onevisit.app:/oauth2redirect",
    ]
    registered = await register(client, platform_admin, **SYSTEM, redirect_uris=uris)
    assert registered.status_code == 201, registered.text
    assert registered.json()["redirect_uris"] == uris


async def test_an_app_is_public_and_registered_by_a_platform_administrator_alone(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str, problem: Problem
) -> None:
    app_client = {
        "name": "一次办 App（测试）",
        "typ": "app",
        "redirect_uris": ["cn.gov.onevisit.app:/oauth2redirect"],
    }
    registered = await register(client, platform_admin, **app_client, first_party=True)
    assert registered.status_code == 201, registered.text
    body = registered.json()
    assert body["client_id"].startswith("app-")
    assert (body["auth_method"], body["client_secret"], body["first_party"]) == (
        "none",
        None,
        True,
    )
    department_admin = await journey.staff_token(
        platform_admin, "13700000052", ["department_admin"], LUCHENG_POLICE
    )
    problem(await register(client, department_admin, **app_client), 403, "staff_admin_required")


async def test_only_a_platform_administrator_makes_a_client_first_party(
    client: httpx.AsyncClient, journey: Journey, platform_admin: str, problem: Problem
) -> None:
    department_admin = await journey.staff_token(
        platform_admin, "13700000053", ["department_admin"], LUCHENG_POLICE
    )
    refused = await register(client, department_admin, **SYSTEM, first_party=True)
    problem(refused, 403, "staff_admin_required")
    first_party = await register(client, platform_admin, **SYSTEM, first_party=True)
    assert first_party.status_code == 201, first_party.text
    # Nor changes one.
    changed = await client.put(
        f"/identity/v1/clients/{first_party.json()['client_id']}/sign-in",
        json={"redirect_uris": ["https://elsewhere.example/callback"]},
        headers=bearer(department_admin),
    )
    problem(changed, 403, "staff_admin_required")


async def test_an_administrator_replaces_a_portals_keys_and_redirect_uris(
    app: FastAPI, client: httpx.AsyncClient, journey: Journey, platform_admin: str, problem: Problem
) -> None:
    department_admin = await journey.staff_token(
        platform_admin, "13700000054", ["department_admin"], LUCHENG_POLICE
    )
    registered = await register(
        client,
        department_admin,
        **SYSTEM,
        auth_method="private_key_jwt",
        jwks=portal_jwks(),
        redirect_uris=["https://old.lucheng.example.gov.cn/callback"],
    )
    client_id = registered.json()["client_id"]
    old, new = portal_jwks()["keys"][0], {**portal_jwks()["keys"][0], "kid": "portal-2"}
    url = f"/identity/v1/clients/{client_id}/sign-in"

    replaced = await client.put(
        url,
        json={
            "jwks": {"keys": [old, new]},
            "redirect_uris": ["https://portal.lucheng.example.gov.cn/callback"],
            "post_logout_redirect_uris": ["https://portal.lucheng.example.gov.cn/"],
        },
        headers=bearer(department_admin),
    )

    assert replaced.status_code == 200, replaced.text
    read = (
        await client.get(f"/identity/v1/clients/{client_id}", headers=bearer(platform_admin))
    ).json()
    assert read["jwks"] == {"keys": [old, new]}
    assert read["redirect_uris"] == ["https://portal.lucheng.example.gov.cn/callback"]
    async with app.state.service.database.sessionmaker() as session:
        events = await session.scalars(select(AuditEvent).where(AuditEvent.subject == client_id))
        assert [(event.action, event.details["kids"]) for event in events] == [
            ("client.sign_in_replaced", ["portal-1", "portal-2"])
        ]
    # Checked as at registration: the keys stay those of a private_key_jwt client.
    problem(
        await client.put(url, json={"redirect_uris": []}, headers=bearer(department_admin)),
        422,
        "invalid_client_metadata",
    )
    problem(
        await client.put(
            url,
            json={"jwks": {"keys": [new]}, "redirect_uris": ["http://portal.example/cb"]},
            headers=bearer(department_admin),
        ),
        422,
        "invalid_redirect_uri",
    )
    # Another department's administrator finds no such client.
    longwan_admin = await journey.staff_token(
        platform_admin, "13700000055", ["department_admin"], LONGWAN_POLICE
    )
    problem(
        await client.put(url, json={"jwks": {"keys": [new]}}, headers=bearer(longwan_admin)),
        404,
        "client_not_found",
    )
