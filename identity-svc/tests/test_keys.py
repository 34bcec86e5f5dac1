"""Signing keys: Ed25519, named by their RFC 7638 thumbprint, sealed at rest, published as a
JWKS, kept across restarts; and the development keys refused in production."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from identity_svc.keys.service import jwk_thumbprint
from identity_svc.main import create_app
from identity_svc.models import SigningKey
from identity_svc.sealing import SealBroken, unseal
from identity_svc.settings import IdentitySettings

if TYPE_CHECKING:
    from conftest import Journey


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_the_jwks_publishes_the_ed25519_public_key_named_by_its_thumbprint(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/identity/v1/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    [key] = response.json()["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}  # never "d"
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert len(b64url_decode(key["x"])) == 32
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": key["x"]}, separators=(",", ":"))
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest())
    assert key["kid"] == expected.rstrip(b"=").decode()


def test_the_thumbprint_matches_the_rfc_8037_example() -> None:
    # RFC 8037, appendix A.3.
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert jwk_thumbprint(crv="Ed25519", x=x) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


async def test_the_private_key_is_sealed_with_the_key_encryption_key(
    app: FastAPI, identity_settings: IdentitySettings
) -> None:
    async with app.state.database.sessionmaker() as session:
        key = (await session.scalars(select(SigningKey))).one()
    aad = f"signing_key:{key.kid}".encode()
    raw = unseal(
        identity_settings.key_encryption_key_bytes, key.private_key_sealed, associated_data=aad
    )
    public = Ed25519PrivateKey.from_private_bytes(raw).public_key()
    assert public.public_bytes(Encoding.Raw, PublicFormat.Raw) == b64url_decode(key.public_x)
    with pytest.raises(SealBroken):
        unseal(b"\x00" * 32, key.private_key_sealed, associated_data=aad)


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
    keys = [SecretStr(base64.b64encode(bytes([n]) * 32).decode()) for n in (1, 2, 3)]
    settings = IdentitySettings(
        environment="production",
        personal_data_key=keys[0],
        lookup_hash_key=keys[1],
        key_encryption_key=keys[2],
    )
    assert settings.key_encryption_key_bytes == bytes([3]) * 32
    assert "AwMD" not in repr(settings)  # secrets stay out of reprs and logs


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"16 bytes only!!!").decode()])
def test_a_key_that_is_not_32_bytes_of_base64_is_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        IdentitySettings(key_encryption_key=SecretStr(value))
