"""Seed identity-svc: the first signing key, the first platform administrator
(``IDENTITY_SEED_ADMIN_*``), in development the demo staff (``IDENTITY_SEED_DEMO_STAFF``:
``identity_svc.demo_staff``) and the OAuth clients (``IDENTITY_SEED_CLIENT_*``,
``IDENTITY_SEED_CLIENTS``) configured in settings, if any. Idempotent: what exists is left as it is.

Run after ``alembic upgrade head``: ``python -m identity_svc.seed``.
"""

import datetime as dt
from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.demo_staff import DEMO_STAFF
from identity_svc.keys.service import ensure_signing_key
from identity_svc.passwords import Passwords
from identity_svc.personal_data import PersonalData
from identity_svc.settings import IdentitySettings
from identity_svc.staff.service import new_staff_account
from identity_svc.tokens import repository as tokens
from identity_svc.tokens.service import register_client
from servicekit.db import run_seed, utcnow

MIN_CLIENT_SECRET_LENGTH = 32

log = structlog.get_logger("identity_svc.seed")


async def seed(session: AsyncSession, settings: IdentitySettings) -> None:
    settings.install_sealing()
    now = utcnow()
    await ensure_signing_key(session, settings.key_encryption_key_bytes, now=now)
    passwords = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        concurrency=settings.password_hash_concurrency,
    )
    personal_data = PersonalData(lookup_key=settings.lookup_hash_key_bytes)
    if settings.seed_admin_phone:
        await seed_staff_account(
            session,
            personal_data=personal_data,
            passwords=passwords,
            phone=settings.seed_admin_phone,
            password=settings.seed_admin_password.get_secret_value(),
            dept=None,
            roles=["platform_admin"],
            now=now,
        )
    if settings.seed_demo_staff:
        created = 0
        for member in DEMO_STAFF:
            created += await seed_staff_account(
                session,
                personal_data=personal_data,
                passwords=passwords,
                phone=member.phone,
                password=member.password,
                dept=member.dept,
                roles=member.roles,
                now=now,
            )
        log.info("demo_staff_seeded", created=created, listed=len(DEMO_STAFF))
    for client in settings.clients_to_seed:
        if await tokens.client(session, client.id) is not None:
            continue
        secret = client.secret.get_secret_value() if client.secret is not None else None
        if secret is not None and len(secret) < MIN_CLIENT_SECRET_LENGTH:
            raise ValueError(
                f"the seeded client {client.id}'s secret needs at least "
                f"{MIN_CLIENT_SECRET_LENGTH} characters"
            )
        await register_client(
            session=session,
            passwords=passwords,
            client_id=client.id,
            client_secret=secret,
            name=client.name or client.id,
            typ=client.type,
            dept=client.dept,
            scopes=client.scopes,
            auth_method=client.method,
            jwks=client.jwks,
            redirect_uris=client.redirect_uris,
            post_logout_redirect_uris=client.post_logout_redirect_uris,
            first_party=client.first_party,
            now=now,
        )


async def seed_staff_account(
    session: AsyncSession,
    *,
    personal_data: PersonalData,
    passwords: Passwords,
    phone: str,
    password: str,
    dept: str | None,
    roles: Sequence[str],
    now: dt.datetime,
) -> bool:
    """Create a staff account for ``phone`` unless an account holds the phone already (this
    seed's, run before, or one changed since: either is left as it is); whether it was created.

    The department is not checked with catalog-svc, which the seed runs beside, not after: a
    seeded department id is one the catalog's data files build (the tests hold them to it)."""
    phone_hash = personal_data.lookup_hash("phone", phone)
    if await accounts.by_phone_hash(session, phone_hash) is not None:
        return False
    await new_staff_account(
        session=session,
        personal_data=personal_data,
        passwords=passwords,
        phone=phone,
        password=password,
        dept=dept,
        roles=roles,
        created_by=None,
        now=now,
    )
    return True


if __name__ == "__main__":
    run_seed(seed, IdentitySettings())
