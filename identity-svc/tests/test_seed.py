"""The seed: the first signing key and the configured OAuth client, idempotently."""

from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select

from identity_svc.models import OAuthClient, SigningKey
from identity_svc.seed import seed
from identity_svc.settings import IdentitySettings


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
