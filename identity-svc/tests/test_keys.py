"""Signing keys: ES256 (an Ed25519 key made before keeps working until a rotation), named by
their RFC 7638 thumbprint, sealed at rest, published as a JWKS, kept across restarts; and the
development keys refused in production."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError
from sqlalchemy import delete, select

from identity_svc.keys import __main__ as keys_command
from identity_svc.keys.service import KeyStore, jwk_thumbprint, rotate_signing_key
from identity_svc.main import create_app
from identity_svc.models import SigningKey
from identity_svc.sealing import SealBroken, seal, unseal
from identity_svc.settings import IdentitySettings
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Journey, MovableClock


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_the_jwks_publishes_the_es256_public_key_named_by_its_thumbprint(
    client: httpx.AsyncClient, journey: Journey
) -> None:
    tokens = await journey.signed_in()
    response = await client.get("/identity/v1/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    [key] = response.json()["keys"]
    assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}  # never "d"
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert len(b64url_decode(key["x"])) == len(b64url_decode(key["y"])) == 32
    canonical = json.dumps(
        {"crv": "P-256", "kty": "EC", "x": key["x"], "y": key["y"]}, separators=(",", ":")
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest())
    assert key["kid"] == expected.rstrip(b"=").decode()
    header = jwt.get_unverified_header(tokens["access_token"])
    assert (header["alg"], header["kid"]) == ("ES256", key["kid"])


def test_the_thumbprint_matches_the_rfc_8037_example() -> None:
    # RFC 8037, appendix A.3 (an OKP key: the members are crv, kty and x).
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    thumbprint = jwk_thumbprint({"crv": "Ed25519", "kty": "OKP", "x": x, "kid": "ignored"})
    assert thumbprint == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


async def test_the_private_key_is_sealed_with_the_key_encryption_key(
    app: FastAPI, identity_settings: IdentitySettings
) -> None:
    await app.state.service.runtime.keys.load(now=app.state.service.runtime.now())
    async with app.state.service.database.sessionmaker() as session:
        key = (await session.scalars(select(SigningKey))).one()
    aad = f"signing_key:{key.kid}".encode()
    raw = unseal(
        identity_settings.key_encryption_key_bytes, key.private_key_sealed, associated_data=aad
    )
    point = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()).public_key()
    numbers = point.public_numbers()
    assert numbers.x.to_bytes(32, "big") == b64url_decode(key.public_x)
    assert key.public_y is not None
    assert numbers.y.to_bytes(32, "big") == b64url_decode(key.public_y)
    with pytest.raises(SealBroken):
        unseal(b"\x00" * 32, key.private_key_sealed, associated_data=aad)


async def test_an_ed25519_key_made_before_signs_until_a_rotation_brings_an_es256_one(
    app: FastAPI,
    client: httpx.AsyncClient,
    journey: Journey,
    identity_settings: IdentitySettings,
) -> None:
    """A deployment whose signing key predates ES256 keeps it: tokens are EdDSA until the next
    rotation, and stay valid after it while the key is published."""
    private = Ed25519PrivateKey.generate()
    x = base64.urlsafe_b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    public_x = x.rstrip(b"=").decode()
    kid = jwk_thumbprint({"crv": "Ed25519", "kty": "OKP", "x": public_x})
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    async with app.state.service.database.sessionmaker.begin() as session:
        await session.execute(delete(SigningKey))  # the deployment's only key is the old one
        session.add(
            SigningKey(
                kid=kid,
                algorithm="EdDSA",
                public_x=public_x,
                private_key_sealed=seal(
                    identity_settings.key_encryption_key_bytes,
                    raw,
                    associated_data=f"signing_key:{kid}".encode(),
                ),
                created_at=app.state.service.runtime.now(),
            )
        )
    assert await app.state.service.runtime.keys.refresh(now=app.state.service.runtime.now()) == kid
    before = await journey.signed_in()
    assert jwt.get_unverified_header(before["access_token"]) == {
        "alg": "EdDSA",
        "kid": kid,
        "typ": "JWT",
    }
    [okp] = (await journey.jwks())["keys"]
    assert (okp["kty"], okp["crv"], okp["alg"], okp["kid"]) == ("OKP", "Ed25519", "EdDSA", kid)

    new_kid = await app.state.service.runtime.keys.rotate(now=app.state.service.runtime.now())
    after = await journey.signed_in()
    assert jwt.get_unverified_header(after["access_token"])["alg"] == "ES256"
    published = {key["kid"]: key["alg"] for key in (await journey.jwks())["keys"]}
    assert published == {new_kid: "ES256", kid: "EdDSA"}
    for tokens in (before, after):
        await journey.claims(tokens["access_token"])
        me = await client.get("/identity/v1/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200


async def test_tokens_keep_verifying_after_a_restart(
    journey: Journey, identity_settings: IdentitySettings
) -> None:
    tokens = await journey.signed_in()
    before = await journey.jwks()
    restarted = create_app(identity_settings)
    async with restarted.router.lifespan_context(restarted):
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (await http.get("/identity/v1/.well-known/jwks.json")).json() == before
            me = await http.get(
                "/identity/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            )
    assert me.status_code == 200


def test_production_refuses_the_development_keys() -> None:
    with pytest.raises(ValidationError) as refused:
        IdentitySettings(environment="production")
    message = str(refused.value)
    for name in (
        "IDENTITY_PERSONAL_DATA_KEY",
        "IDENTITY_LOOKUP_HASH_KEY",
        "IDENTITY_KEY_ENCRYPTION_KEY",
    ):
        assert name in message


def test_production_starts_with_keys_of_its_own() -> None:
    keys = [SecretStr(base64.b64encode(bytes([n]) * 32).decode()) for n in (1, 2, 3, 4, 5, 6)]
    settings = IdentitySettings(
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
    )
    assert settings.key_encryption_key_bytes == bytes([3]) * 32
    assert "AwMD" not in repr(settings)  # secrets stay out of reprs and logs


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"16 bytes only!!!").decode()])
def test_a_key_that_is_not_32_bytes_of_base64_is_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        IdentitySettings(key_encryption_key=SecretStr(value))


# Rotation -------------------------------------------------------------------------------------


async def test_after_a_rotation_new_tokens_use_the_new_key_and_earlier_ones_still_verify(
    app: FastAPI, client: httpx.AsyncClient, journey: Journey
) -> None:
    before = await journey.signed_in()
    old_kid = jwt.get_unverified_header(before["access_token"])["kid"]

    new_kid = await app.state.service.runtime.keys.rotate(now=app.state.service.runtime.now())

    assert new_kid != old_kid
    assert [key["kid"] for key in (await journey.jwks())["keys"]] == [new_kid, old_kid]
    after = await journey.signed_in()
    assert jwt.get_unverified_header(after["access_token"])["kid"] == new_kid
    for tokens in (before, after):
        await journey.claims(tokens["access_token"])  # verifies with the published JWKS
        me = await client.get("/identity/v1/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200


async def test_the_old_key_leaves_the_jwks_once_every_token_it_signed_has_expired(
    app: FastAPI,
    journey: Journey,
    clock: MovableClock,
    identity_settings: IdentitySettings,
) -> None:
    old_kid = (await journey.jwks())["keys"][0]["kid"]
    new_kid = await app.state.service.runtime.keys.rotate(now=app.state.service.runtime.now())
    grace = identity_settings.signing_key_grace_seconds
    assert grace > identity_settings.access_token_ttl_seconds

    clock.advance(grace - 1)
    assert [key["kid"] for key in (await journey.jwks())["keys"]] == [new_kid, old_kid]
    clock.advance(2)
    assert [key["kid"] for key in (await journey.jwks())["keys"]] == [new_kid]

    # A later rotation marks it retired for good.
    newest = await app.state.service.runtime.keys.rotate(now=app.state.service.runtime.now())
    async with app.state.service.database.sessionmaker() as session:
        keys = {key.kid: key for key in await session.scalars(select(SigningKey))}
    assert keys[old_kid].retired_at is not None
    assert keys[new_kid].retired_at is None
    assert keys[new_kid].superseded_at is not None
    assert keys[newest].superseded_at is None


async def test_an_instance_picks_up_a_rotation_made_elsewhere_when_it_refreshes(
    app: FastAPI, identity_settings: IdentitySettings
) -> None:
    """Another instance, or the command, rotated: this one signs with the new key from its
    next refresh on (run every ``signing_key_reload_seconds`` in the background)."""
    keys = app.state.service.runtime.keys
    now = app.state.service.runtime.now()
    old_kid = await keys.load(now=now)
    async with app.state.service.database.sessionmaker.begin() as session:
        rotated = await rotate_signing_key(
            session, identity_settings.key_encryption_key_bytes, now=now, grace=keys.grace
        )
    assert await keys.load(now=now) == old_kid  # requests never wait on the database for it
    assert await keys.refresh(now=now) == rotated.kid
    token = await keys.sign({"sub": "x"}, now=now)
    assert jwt.get_unverified_header(token)["kid"] == rotated.kid


async def test_a_key_older_than_the_maximum_age_is_rotated_on_refresh(
    app: FastAPI, identity_settings: IdentitySettings
) -> None:
    runtime = app.state.service.runtime
    aging = KeyStore(
        identity_settings.key_encryption_key_bytes,
        clock=runtime.now,
        grace=runtime.keys.grace,
        reload_every=runtime.keys.reload_every,
        max_age=dt.timedelta(days=90),
    )
    aging.attach(app.state.service.database.sessionmaker)
    now = runtime.now()
    first = await aging.refresh(now=now)
    assert await aging.refresh(now=now + dt.timedelta(days=89)) == first
    second = await aging.refresh(now=now + dt.timedelta(days=90))
    assert second != first
    assert await aging.refresh(now=now + dt.timedelta(days=91)) == second


def test_the_rotate_command_rotates_the_key_of_the_configured_database(
    identity_settings: IdentitySettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``python -m identity_svc.keys rotate|list``, run in process with the settings it would
    read from the environment."""
    monkeypatch.setenv("IDENTITY_DATABASE_URL", identity_settings.database_url)

    def run(command: str) -> str:
        assert keys_command.main([command]) == 0
        return capsys.readouterr().out

    first = run("rotate").split()[1]
    second = run("rotate").split()[1]
    listed = run("list").splitlines()
    assert [line.split("\t")[0] for line in listed][:2] == [second, first]
    assert listed[0].endswith("\tpublished")
    assert "superseded=-" in listed[0]
    assert listed[1].endswith("\tpublished")  # superseded, still within its grace
