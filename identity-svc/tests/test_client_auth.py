"""How clients authenticate at the token endpoint: ``private_key_jwt`` (RFC 7523) for the
clients that registered public keys, refused alike for every fault; a public client (the app)
gets no token of its own; and the password grant can be switched off, and is off in production
unless switched on."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc.jwk import RSAKey
from pydantic import SecretStr
from sqlalchemy import select

from identity_svc.models import ClientAssertion
from identity_svc.settings import IdentitySettings
from identity_svc.tokens.client_auth import JWT_BEARER_ASSERTION
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import AppStarter, Journey, MovableClock
    from fastapi import FastAPI

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

LUCHENG_POLICE = "330302-public_security"
ISSUER = "http://127.0.0.1:8000/identity/v1"
TOKEN_ENDPOINT = f"{ISSUER}/token"
#: What every refusal of a client assertion may say: nothing about which check failed.
REFUSAL_DETAILS = {
    "the client assertion is not valid",
    "the client assertion is not a JWT signed with ES256, RS256, PS256 or EdDSA",
}

# Keys made once: an RSA key takes a while to make.
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED25519_KEY = ed25519.Ed25519PrivateKey.generate()


def _jwk_of(key: PrivateKey) -> dict[str, Any]:
    algorithm: Any
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = jwt.algorithms.ECAlgorithm
    elif isinstance(key, rsa.RSAPrivateKey):
        algorithm = jwt.algorithms.RSAAlgorithm
    else:
        algorithm = jwt.algorithms.OKPAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return jwk


def jwk_set(*keys: tuple[PrivateKey, str]) -> dict[str, Any]:
    return {"keys": [{**_jwk_of(key), "kid": kid} for key, kid in keys]}


def sign(
    key: Any,
    client_id: str,
    *,
    now: float,
    algorithm: str = "ES256",
    kid: str | None = "portal-1",
    **claims: Any,
) -> str:
    """A client assertion as RFC 7523 §3 has it; a claim given as None is left out."""
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_ENDPOINT,
        "iat": int(now),
        "exp": int(now) + 60,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(
        {name: value for name, value in payload.items() if value is not None},
        key,
        algorithm=algorithm,
        headers=headers,
    )


def assertion_form(assertion: str, **more: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER_ASSERTION,
        "client_assertion": assertion,
        **more,
    }


async def token_by(client: httpx.AsyncClient, assertion: str, **more: str) -> httpx.Response:
    return await client.post("/identity/v1/token", data=assertion_form(assertion, **more))


@dataclass(frozen=True)
class Portal:
    """A department portal registered with ``private_key_jwt`` and one EC P-256 key."""

    client_id: str
    key: ec.EllipticCurvePrivateKey


async def register(client: httpx.AsyncClient, token: str, **body: Any) -> httpx.Response:
    return await client.post("/identity/v1/clients", json=body, headers=bearer(token))


@pytest.fixture
async def portal(client: httpx.AsyncClient, platform_admin: str) -> Portal:
    registered = await register(
        client,
        platform_admin,
        client_id="ds-330302-public-security-portal",
        name="鹿城区公安分局网上办事大厅（合成数据）",
        typ="department_system",
        dept=LUCHENG_POLICE,
        scopes=["exchange:calls"],
        auth_method="private_key_jwt",
        jwks=jwk_set((EC_KEY, "portal-1")),
        redirect_uris=["http://127.0.0.1:8765/callback"],
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["client_secret"] is None
    return Portal(registered.json()["client_id"], EC_KEY)


async def test_a_portal_signs_in_with_a_jwt_signed_by_its_registered_key(
    client: httpx.AsyncClient, journey: Journey, portal: Portal, clock: MovableClock
) -> None:
    response = await token_by(client, sign(portal.key, portal.client_id, now=clock().timestamp()))

    assert response.status_code == 200, response.text
    claims = await journey.claims(response.json()["access_token"])
    assert (claims["sub"], claims["typ"], claims["dept"], claims["scope"]) == (
        portal.client_id,
        "department_system",
        LUCHENG_POLICE,
        "exchange:calls",
    )
    # No secret, hence no secret generation a rotation could end.
    assert "sgen" not in claims


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [
        (EC_KEY, "ES256"),
        (RSA_KEY, "RS256"),
        (RSA_KEY, "PS256"),
        (ED25519_KEY, "EdDSA"),
    ],
    ids=["ES256", "RS256", "PS256", "EdDSA"],
)
async def test_each_accepted_kind_of_key_signs_an_assertion(
    client: httpx.AsyncClient,
    platform_admin: str,
    clock: MovableClock,
    key: PrivateKey,
    algorithm: str,
) -> None:
    client_id = f"ds-330302-public-security-{algorithm.lower()}"
    registered = await register(
        client,
        platform_admin,
        client_id=client_id,
        name="x",
        typ="department_system",
        dept=LUCHENG_POLICE,
        auth_method="private_key_jwt",
        # Two keys: the header's kid picks the one.
        jwks=jwk_set((OTHER_EC_KEY, "old"), (key, "current")),
    )
    assert registered.status_code == 201, registered.text

    signed = sign(key, client_id, now=clock().timestamp(), algorithm=algorithm, kid="current")
    assert (await token_by(client, signed)).status_code == 200


async def test_an_assertion_may_name_the_issuer_as_its_audience(
    client: httpx.AsyncClient, portal: Portal, clock: MovableClock
) -> None:
    """OpenID Connect Core §9 lets the audience be the issuer, or a list holding it."""
    now = clock().timestamp()
    for audience in (ISSUER, ["https://elsewhere.example", TOKEN_ENDPOINT]):
        signed = sign(portal.key, portal.client_id, now=now, aud=audience)
        assert (await token_by(client, signed)).status_code == 200


async def test_an_assertion_made_by_authlib_gets_a_token(
    portal: Portal, platform_admin: str, client: httpx.AsyncClient
) -> None:
    """A real OAuth library's private_key_jwt assertion (Authlib's, with an RSA key and its
    default RS256). Its assertions live an hour unless told otherwise: longer than this token
    endpoint takes (``client_assertion_max_seconds``), so the client sets a short life."""
    registered = await register(
        client,
        platform_admin,
        client_id="ds-330302-public-security-authlib",
        name="x",
        typ="department_system",
        dept=LUCHENG_POLICE,
        scopes=["exchange:calls"],
        auth_method="private_key_jwt",
        jwks={"keys": [_jwk_of(RSA_KEY)]},
    )
    assert registered.status_code == 201, registered.text
    key = RSAKey.import_key(
        RSA_KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    def made_by_authlib(**options: Any) -> str:
        signed = private_key_jwt_sign(
            key, "ds-330302-public-security-authlib", TOKEN_ENDPOINT, **options
        )
        return signed.decode() if isinstance(signed, bytes) else str(signed)

    token = await token_by(client, made_by_authlib(expires_in=60))
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "exchange:calls"
    assert (await token_by(client, made_by_authlib())).status_code == 401


def _refused_form(portal: Portal, now: float, case: str) -> dict[str, str]:
    """The token request of each refusal case (``REFUSALS``)."""
    client_id = portal.client_id
    if case == "wrong-key":
        return assertion_form(sign(OTHER_EC_KEY, client_id, now=now))
    if case == "unknown-kid":
        return assertion_form(sign(portal.key, client_id, now=now, kid="portal-2"))
    if case == "expired":
        return assertion_form(sign(portal.key, client_id, now=now, iat=now - 400, exp=now - 100))
    if case == "exp-too-far":
        return assertion_form(sign(portal.key, client_id, now=now, exp=now + 3600))
    if case == "lives-too-long":
        return assertion_form(sign(portal.key, client_id, now=now, iat=now - 200, exp=now + 200))
    if case == "issued-in-the-future":
        return assertion_form(sign(portal.key, client_id, now=now, iat=now + 120))
    if case == "no-exp":
        return assertion_form(sign(portal.key, client_id, now=now, exp=None))
    if case == "no-jti":
        return assertion_form(sign(portal.key, client_id, now=now, jti=None))
    if case == "wrong-aud":
        other = "http://127.0.0.1:8000/cases/v1/token"
        return assertion_form(sign(portal.key, client_id, now=now, aud=other))
    if case == "iss-not-sub":
        other = "ds-330302-public-security-other"
        return assertion_form(sign(portal.key, client_id, now=now, sub=other))
    if case == "alg-none":
        return assertion_form(sign(None, client_id, now=now, algorithm="none"))
    if case == "hs256":
        # Keyed with the public key itself: the old confusion of a public key for a secret
        # (PyJWT refuses to sign so, hence by hand).
        return assertion_form(_hs256_keyed_with_public_key(portal, now))
    if case == "other-client-id":
        signed = sign(portal.key, client_id, now=now)
        return assertion_form(signed, client_id="ds-330302-public-security-other")
    if case == "alg-not-a-string":
        signed = sign(portal.key, client_id, now=now)
        _header, claims, signature = signed.split(".")
        header = base64.urlsafe_b64encode(json.dumps({"alg": ["ES256"]}).encode()).rstrip(b"=")
        return assertion_form(f"{header.decode()}.{claims}.{signature}")
    if case == "not-a-jwt":
        return assertion_form("not.a.jwt")
    raise AssertionError(case)


def _hs256_keyed_with_public_key(portal: Portal, now: float) -> str:
    def encoded(part: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")

    claims = {
        "iss": portal.client_id,
        "sub": portal.client_id,
        "aud": TOKEN_ENDPOINT,
        "exp": int(now) + 60,
        "jti": uuid.uuid4().hex,
    }
    signing_input = encoded({"alg": "HS256", "typ": "JWT"}) + b"." + encoded(claims)
    public = json.dumps(_jwk_of(portal.key)).encode()
    mac = hmac.new(public, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


REFUSALS = [
    "wrong-key",
    "unknown-kid",
    "expired",
    "exp-too-far",
    "lives-too-long",
    "issued-in-the-future",
    "no-exp",
    "no-jti",
    "wrong-aud",
    "iss-not-sub",
    "alg-none",
    "hs256",
    "other-client-id",
    "alg-not-a-string",
    "not-a-jwt",
]


@pytest.mark.parametrize("case", REFUSALS)
async def test_an_assertion_at_fault_is_refused_as_invalid_client_alike(
    client: httpx.AsyncClient, portal: Portal, clock: MovableClock, problem: Problem, case: str
) -> None:
    response = await client.post(
        "/identity/v1/token", data=_refused_form(portal, clock().timestamp(), case)
    )

    body = problem(response, 401, "invalid_client")
    assert body["error"] == "invalid_client"
    assert body["title"] == "Client authentication failed"
    assert body["detail"] in REFUSAL_DETAILS


async def test_an_assertion_is_used_once(
    app: FastAPI, client: httpx.AsyncClient, portal: Portal, clock: MovableClock, problem: Problem
) -> None:
    signed = sign(portal.key, portal.client_id, now=clock().timestamp())
    assert (await token_by(client, signed)).status_code == 200

    problem(await token_by(client, signed), 401, "invalid_client")
    # The same jti in another assertion is the same assertion, replayed.
    again = sign(portal.key, portal.client_id, now=clock().timestamp(), jti=_jti(signed))
    problem(await token_by(client, again), 401, "invalid_client")


def _jti(assertion: str) -> str:
    jti: str = jwt.decode(assertion, options={"verify_signature": False})["jti"]
    return jti


async def test_the_same_assertion_sent_at_once_passes_once(
    client: httpx.AsyncClient, portal: Portal, clock: MovableClock
) -> None:
    signed = sign(portal.key, portal.client_id, now=clock().timestamp())

    answers = await asyncio.gather(*(token_by(client, signed) for _ in range(6)))

    assert sorted(answer.status_code for answer in answers) == [200, 401, 401, 401, 401, 401]


async def test_spent_assertions_are_forgotten_once_they_expire(
    app: FastAPI, client: httpx.AsyncClient, portal: Portal, clock: MovableClock
) -> None:
    first = sign(portal.key, portal.client_id, now=clock().timestamp())
    assert (await token_by(client, first)).status_code == 200
    clock.advance(120)
    second = sign(portal.key, portal.client_id, now=clock().timestamp())
    assert (await token_by(client, second)).status_code == 200

    async with app.state.service.database.sessionmaker() as session:
        kept = await session.scalars(select(ClientAssertion.jti))
        assert list(kept) == [_jti(second)]
    # The first one's jti is free again: its assertion could not be replayed any more.
    again = sign(portal.key, portal.client_id, now=clock().timestamp(), jti=_jti(first))
    assert (await token_by(client, again)).status_code == 200


async def test_a_disabled_portal_signs_in_no_more(
    client: httpx.AsyncClient,
    portal: Portal,
    platform_admin: str,
    clock: MovableClock,
    problem: Problem,
) -> None:
    disabled = await client.delete(
        f"/identity/v1/clients/{portal.client_id}", headers=bearer(platform_admin)
    )
    assert disabled.status_code == 204
    signed = sign(portal.key, portal.client_id, now=clock().timestamp())
    problem(await token_by(client, signed), 401, "invalid_client")


async def test_a_client_uses_its_own_method_and_no_other(
    client: httpx.AsyncClient,
    portal: Portal,
    platform_admin: str,
    clock: MovableClock,
    problem: Problem,
) -> None:
    """A secret presented for a private_key_jwt client, and an assertion for a client that
    authenticates with its secret, are refused as a wrong secret is."""
    credentials = base64.b64encode(f"{portal.client_id}:{'x' * 43}".encode()).decode()
    secret_for_portal = await client.post(
        "/identity/v1/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {credentials}"},
    )
    problem(secret_for_portal, 401, "invalid_client")
    # Its id alone proves nothing either.
    bare = await client.post(
        "/identity/v1/token",
        data={"grant_type": "client_credentials", "client_id": portal.client_id},
    )
    problem(bare, 401, "invalid_client")

    service = await register(
        client, platform_admin, client_id="stats-svc", name="统计服务", typ="service"
    )
    assert service.status_code == 201, service.text
    # Even signed with a key the service would have, had it registered one.
    signed = sign(portal.key, "stats-svc", now=clock().timestamp())
    problem(await token_by(client, signed), 401, "invalid_client")


async def test_a_public_client_gets_no_token_of_its_own(
    client: httpx.AsyncClient, platform_admin: str, problem: Problem
) -> None:
    registered = await register(
        client,
        platform_admin,
        client_id="demo-app",
        name="一次办 App（测试）",
        typ="app",
        redirect_uris=["cn.gov.onevisit.app:/oauth2redirect"],
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["auth_method"] == "none"
    assert registered.json()["client_secret"] is None

    refused = await client.post(
        "/identity/v1/token", data={"grant_type": "client_credentials", "client_id": "demo-app"}
    )
    problem(refused, 400, "unauthorized_client")


async def test_the_password_grant_can_be_switched_off(
    identity_settings: IdentitySettings, start_app: AppStarter, journey: Journey, problem: Problem
) -> None:
    phone = await journey.register()
    off = identity_settings.model_copy(update={"password_grant_enabled": False})
    async with (
        start_app(off) as application,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as http,
    ):
        refused = await http.post(
            "/identity/v1/token",
            data={"grant_type": "password", "username": phone, "password": "Songtai-2026!"},
        )
    body = problem(refused, 400, "unsupported_grant_type")
    assert "password" not in body["detail"]


def _production(**more: Any) -> IdentitySettings:
    keys = [SecretStr(base64.b64encode(bytes([n]) * 32).decode()) for n in (1, 2, 3, 4, 5, 6)]
    return IdentitySettings(
        environment="production",
        personal_data_key=keys[0],
        lookup_hash_key=keys[1],
        key_encryption_key=keys[2],
        cursor_key=keys[3],
        request_digest_key=keys[4],
        sealing_keys={"2026-12": keys[5]},
        sealing_key_id="2026-12",
        forwarded_key=keys[5],
        sms_sender="http",
        sms_endpoint="https://sms.example.test/v1/messages",
        **more,
    )


def test_the_password_grant_is_off_in_production_unless_switched_on() -> None:
    assert not _production().password_grant_on
    assert _production(password_grant_enabled=True).password_grant_on
    assert IdentitySettings(environment="development").password_grant_on
