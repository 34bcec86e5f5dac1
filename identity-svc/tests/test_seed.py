"""The seed: the first signing key, the configured OAuth client and, in development only, the
demo staff, idempotently."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError
from sqlalchemy import func, select, update

from identity_svc.demo_staff import DEMO_STAFF
from identity_svc.models import Account, OAuthClient, SigningKey
from identity_svc.personal_data import PersonalData
from identity_svc.seed import seed
from identity_svc.settings import IdentitySettings, SeedClient
from servicekit.db import utcnow

if TYPE_CHECKING:
    from conftest import Journey


async def test_seeding_twice_changes_nothing(
    app: FastAPI, identity_settings: IdentitySettings
) -> None:
    configured = identity_settings.model_copy(
        update={
            "seed_client_id": "case-svc",
            "seed_client_secret": SecretStr("c" * 32),
            "seed_client_type": "service",
        }
    )
    sessions = app.state.service.database.sessionmaker
    async with sessions.begin() as session:
        await seed(session, configured)
        keys = (await session.scalars(select(SigningKey.kid))).all()
        client = await session.get(OAuthClient, "case-svc")
        assert client is not None
        secret_hash = client.secret_hash
    async with sessions.begin() as session:
        await seed(session, configured)
        assert (await session.scalars(select(SigningKey.kid))).all() == keys
        assert await session.scalar(select(func.count()).select_from(OAuthClient)) == 1
        again = await session.get(OAuthClient, "case-svc")
        assert again is not None
        assert again.secret_hash == secret_hash
    assert len(keys) == 1


async def test_without_a_configured_client_the_seed_makes_none(
    app: FastAPI, identity_settings: IdentitySettings
) -> None:
    async with app.state.service.database.sessionmaker.begin() as session:
        await seed(session, identity_settings)
        assert await session.scalar(select(func.count()).select_from(OAuthClient)) == 0


# The demo staff (development only) -----------------------------------------------------------


def _demo(settings: IdentitySettings) -> IdentitySettings:
    return settings.model_copy(update={"seed_demo_staff": True})


async def test_the_demo_seed_makes_exactly_the_listed_staff_and_nothing_twice(
    app: FastAPI, identity_settings: IdentitySettings
) -> None:
    personal_data = PersonalData(lookup_key=identity_settings.lookup_hash_key_bytes)
    listed = sorted(
        (personal_data.lookup_hash("phone", member.phone), member.dept, list(member.roles))
        for member in DEMO_STAFF
    )
    sessions = app.state.service.database.sessionmaker
    for _ in range(2):
        async with sessions.begin() as session:
            await seed(session, _demo(identity_settings))
        async with sessions.begin() as session:
            staff = (await session.scalars(select(Account).where(Account.typ == "staff"))).all()
            seeded = sorted((account.phone_hash, account.dept, account.roles) for account in staff)
            assert seeded == listed
            assert await session.scalar(select(func.count()).select_from(Account)) == len(listed)


async def test_every_demo_staff_member_signs_in_with_the_published_password(
    app: FastAPI, identity_settings: IdentitySettings, journey: Journey
) -> None:
    async with app.state.service.database.sessionmaker.begin() as session:
        await seed(session, _demo(identity_settings))
    for member in DEMO_STAFF:
        login = await journey.login(member.phone, member.password)
        assert login.status_code == 200, (member.phone, login.text)
        claims = await journey.claims(login.json()["access_token"])
        assert (claims["typ"], claims.get("dept"), claims["roles"]) == (
            "staff",
            member.dept,
            list(member.roles),
        )


async def test_a_demo_account_changed_since_is_left_as_it_is(
    app: FastAPI, identity_settings: IdentitySettings
) -> None:
    sessions = app.state.service.database.sessionmaker
    async with sessions.begin() as session:
        await seed(session, _demo(identity_settings))
    async with sessions.begin() as session:
        await session.execute(
            update(Account).where(Account.typ == "staff").values(disabled_at=utcnow())
        )

    async with sessions.begin() as session:
        await seed(session, _demo(identity_settings))

    async with sessions.begin() as session:
        staff = (await session.scalars(select(Account))).all()
        assert len(staff) == len(DEMO_STAFF)
        assert all(account.disabled_at is not None for account in staff)


async def test_without_the_setting_the_seed_makes_no_staff(
    app: FastAPI, identity_settings: IdentitySettings
) -> None:
    async with app.state.service.database.sessionmaker.begin() as session:
        await seed(session, identity_settings)
        assert await session.scalar(select(func.count()).select_from(Account)) == 0


def test_production_refuses_the_demo_staff() -> None:
    key = SecretStr(base64.b64encode(bytes([7]) * 32).decode())
    production: dict[str, Any] = {
        "environment": "production",
        "personal_data_key": key,
        "lookup_hash_key": key,
        "key_encryption_key": key,
        "cursor_key": key,
        "request_digest_key": key,
        "sealing_keys": {"2026-12": key},
        "sealing_key_id": "2026-12",
        "forwarded_key": key,
        "sms_sender": "http",
        "sms_endpoint": "https://sms.example.test/v1/messages",
    }
    assert not IdentitySettings(**production).seed_demo_staff
    with pytest.raises(ValidationError, match="IDENTITY_SEED_DEMO_STAFF"):
        IdentitySettings(**production, seed_demo_staff=True)


async def test_the_seed_registers_several_clients_beside_the_single_one_once_each(
    app: FastAPI, identity_settings: IdentitySettings
) -> None:
    configured = identity_settings.model_copy(
        update={
            "seed_client_id": "case-svc",
            "seed_client_secret": SecretStr("c" * 32),
            "seed_client_type": "service",
            "seed_clients": [
                SeedClient(id="rating-svc", secret=SecretStr("r" * 32), name="rating-svc"),
                SeedClient(id="catalog-svc", secret=SecretStr("k" * 32)),
            ],
        }
    )
    sessions = app.state.service.database.sessionmaker
    for _ in range(2):
        async with sessions.begin() as session:
            await seed(session, configured)
    async with sessions() as session:
        clients = (await session.scalars(select(OAuthClient).order_by(OAuthClient.client_id))).all()
        assert [(client.client_id, client.typ) for client in clients] == [
            ("case-svc", "service"),
            ("catalog-svc", "service"),
            ("rating-svc", "service"),
        ]


def test_a_client_named_twice_is_refused(identity_settings: IdentitySettings) -> None:
    with pytest.raises(ValidationError, match="named twice: rating-svc"):
        IdentitySettings.model_validate(
            {
                **identity_settings.model_dump(),
                "seed_clients": [
                    {"id": "rating-svc", "secret": "r" * 32},
                    {"id": "rating-svc", "secret": "s" * 32},
                ],
            }
        )


def _public_jwks() -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return {"keys": [{**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key)), "kid": "portal"}]}


async def test_the_seed_registers_a_portal_with_its_keys_and_the_app_as_a_public_client(
    app: FastAPI, identity_settings: IdentitySettings
) -> None:
    jwks = _public_jwks()
    configured = identity_settings.model_copy(
        update={
            "seed_clients": [
                SeedClient(
                    id="onevisit-app",
                    name="一次办 App",
                    type="app",
                    first_party=True,
                    redirect_uris=["cn.gov.onevisit.app:/oauth2redirect"],
                ),
                SeedClient(
                    id="ds-330302-public-security-portal",
                    type="department_system",
                    dept="330302-public_security",
                    auth_method="private_key_jwt",
                    jwks=jwks,
                    redirect_uris=["http://127.0.0.1:8765/callback"],
                    post_logout_redirect_uris=["http://127.0.0.1:8765/"],
                ),
            ],
        }
    )
    async with app.state.service.database.sessionmaker.begin() as session:
        await seed(session, configured)
    async with app.state.service.database.sessionmaker() as session:
        app_client = await session.get(OAuthClient, "onevisit-app")
        portal = await session.get(OAuthClient, "ds-330302-public-security-portal")
    assert app_client is not None
    assert portal is not None
    assert (app_client.typ, app_client.auth_method, app_client.secret_hash) == ("app", "none", None)
    assert app_client.first_party
    assert (portal.auth_method, portal.jwks, portal.secret_hash) == ("private_key_jwt", jwks, None)
    assert portal.post_logout_redirect_uris == ["http://127.0.0.1:8765/"]


@pytest.mark.parametrize(
    ("client", "message"),
    [
        ({"id": "x", "type": "app", "secret": "s" * 32}, "a secret if and only if"),
        ({"id": "x", "type": "service"}, "a secret if and only if"),
        ({"id": "x", "auth_method": "private_key_jwt"}, "needs the client's jwks"),
        ({"id": "x", "secret": "s" * 32, "redirect_uris": ["http://x.example/"]}, "https"),
    ],
    ids=["an-app-with-a-secret", "no-secret", "no-keys", "plain-http"],
)
def test_a_seeded_client_obeys_the_rules_of_registration(
    identity_settings: IdentitySettings, client: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        IdentitySettings.model_validate(
            {**identity_settings.model_dump(), "seed_clients": [client]}
        )
