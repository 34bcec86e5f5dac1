"""Ending access at once, end to end through the gateway between real processes: a logout with
the refresh token alone, a disabled client, a rotated secret's overlap ended, a disabled staff
account. Each time the access tokens already issued stop at the gateway within seconds (the
revocation list identity-svc publishes and the gateway polls), not ten minutes later."""

import secrets
from pathlib import Path
from typing import Any

import httpx

from onevisit_dev.answers import bearer, problem, refused_within, register_citizen, send
from onevisit_dev.platform import Platform

LUCHENG_POLICE = "330302-public_security"


def a_phone() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def signed_in_citizen(gateway: httpx.Client, var_dir: Path) -> dict[str, Any]:
    phone, password = a_phone(), f"Revoke-{secrets.token_hex(6)}"
    register_citizen(gateway, var_dir, phone, password)
    signed_in = send(
        gateway,
        "POST",
        "/identity/v1/token",
        data={"grant_type": "password", "username": phone, "password": password},
    )
    assert signed_in.status_code == 200, signed_in.text
    tokens: dict[str, Any] = signed_in.json()
    return tokens


def registered_client(gateway: httpx.Client, admin: str) -> dict[str, Any]:
    registered = send(
        gateway,
        "POST",
        "/identity/v1/clients",
        json={"name": "统计分析服务（合成数据）", "typ": "service", "scopes": []},
        headers=bearer(admin),
    )
    assert registered.status_code == 201, registered.text
    client: dict[str, Any] = registered.json()
    return client


def client_token(gateway: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    return send(
        gateway,
        "POST",
        "/identity/v1/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )


def test_a_logout_with_the_refresh_token_alone_ends_the_access_token_at_the_gateway(
    gateway: httpx.Client, platform: Platform
) -> None:
    tokens = signed_in_citizen(gateway, platform.config.var_dir)
    assert gateway.get("/identity/v1/me", headers=bearer(tokens["access_token"])).is_success

    # No access token: one that has expired must not keep a phone from logging out.
    logout = send(
        gateway, "POST", "/identity/v1/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    assert logout.status_code == 204, logout.text

    refused = refused_within(gateway, "GET", "/cases/v1/cases", tokens["access_token"])
    problem(refused, 401, "token_revoked")
    assert refused.headers["www-authenticate"] == 'Bearer error="token_revoked"'
    problem(
        send(
            gateway,
            "POST",
            "/identity/v1/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        ),
        400,
        "invalid_grant",
    )


def test_rfc_7009_revocation_of_an_access_token_ends_its_session(
    gateway: httpx.Client, platform: Platform
) -> None:
    tokens = signed_in_citizen(gateway, platform.config.var_dir)
    revoked = send(
        gateway,
        "POST",
        "/identity/v1/revoke",
        data={"token": tokens["access_token"], "token_type_hint": "access_token"},
    )
    assert revoked.status_code == 200, revoked.text
    problem(
        refused_within(gateway, "GET", "/identity/v1/me", tokens["access_token"]),
        401,
        "token_revoked",
    )


def test_a_disabled_clients_tokens_are_refused_at_the_gateway_within_seconds(
    gateway: httpx.Client, platform_admin: str
) -> None:
    client = registered_client(gateway, platform_admin)
    issued = client_token(gateway, client["client_id"], client["client_secret"])
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    assert gateway.get("/cases/v1/cases", headers=bearer(token)).status_code != 401

    disabled = send(
        gateway,
        "DELETE",
        f"/identity/v1/clients/{client['client_id']}",
        headers=bearer(platform_admin),
    )
    assert disabled.status_code == 204, disabled.text

    problem(refused_within(gateway, "GET", "/cases/v1/cases", token), 401, "token_revoked")


def test_ending_a_rotations_overlap_ends_the_previous_secret_and_its_tokens_at_once(
    gateway: httpx.Client, platform_admin: str
) -> None:
    client = registered_client(gateway, platform_admin)
    client_id, old_secret = client["client_id"], client["client_secret"]
    old_token = client_token(gateway, client_id, old_secret).json()["access_token"]
    rotated = send(
        gateway, "POST", f"/identity/v1/clients/{client_id}/secret", headers=bearer(platform_admin)
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["client_secret"]
    # The overlap: the previous secret still grants tokens.
    assert client_token(gateway, client_id, old_secret).status_code == 200

    ended = send(
        gateway,
        "DELETE",
        f"/identity/v1/clients/{client_id}/previous-secret",
        headers=bearer(platform_admin),
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["previous_secret_expires_at"] is None

    problem(client_token(gateway, client_id, old_secret), 401, "invalid_client")
    problem(refused_within(gateway, "GET", "/cases/v1/cases", old_token), 401, "token_revoked")
    new_token = client_token(gateway, client_id, new_secret).json()["access_token"]
    assert gateway.get("/cases/v1/cases", headers=bearer(new_token)).status_code != 401


def test_a_disabled_staff_member_is_cut_off_at_once(
    gateway: httpx.Client, platform_admin: str
) -> None:
    phone, password = a_phone(), f"Staff-{secrets.token_hex(6)}"
    created = send(
        gateway,
        "POST",
        "/identity/v1/staff",
        json={"phone": phone, "password": password, "dept": LUCHENG_POLICE, "roles": ["handler"]},
        headers=bearer(platform_admin),
    )
    assert created.status_code == 201, created.text
    staff_id = created.json()["id"]
    signed_in = send(
        gateway,
        "POST",
        "/identity/v1/token",
        data={"grant_type": "password", "username": phone, "password": password},
    )
    tokens = signed_in.json()
    assert gateway.get("/cases/v1/cases", headers=bearer(tokens["access_token"])).status_code != 401

    disabled = send(
        gateway, "POST", f"/identity/v1/staff/{staff_id}/disable", headers=bearer(platform_admin)
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled_at"] is not None

    problem(
        refused_within(gateway, "GET", "/cases/v1/cases", tokens["access_token"]),
        401,
        "token_revoked",
    )
    problem(
        send(
            gateway,
            "POST",
            "/identity/v1/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        ),
        400,
        "invalid_grant",
    )
    problem(
        send(
            gateway,
            "POST",
            "/identity/v1/token",
            data={"grant_type": "password", "username": phone, "password": password},
        ),
        400,
        "account_disabled",
    )
    trail = gateway.get(
        f"/identity/v1/staff/{staff_id}/audit-trail", headers=bearer(platform_admin)
    )
    assert [event["action"] for event in trail.json()["items"]] == [
        "staff.created",
        "staff.disabled",
    ]


def test_staff_cannot_be_created_in_a_department_the_catalog_does_not_know(
    gateway: httpx.Client, platform_admin: str
) -> None:
    refused = send(
        gateway,
        "POST",
        "/identity/v1/staff",
        json={
            "phone": a_phone(),
            "password": f"Staff-{secrets.token_hex(6)}",
            "dept": "330302-space_agency",
            "roles": ["handler"],
        },
        headers=bearer(platform_admin),
    )
    assert problem(refused, 422, "unknown_department")["dept"] == "330302-space_agency"
