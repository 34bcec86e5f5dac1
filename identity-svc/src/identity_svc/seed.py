"""Seed identity-svc: the first signing key, the first platform administrator
(``IDENTITY_SEED_ADMIN_*``) and the OAuth client (``IDENTITY_SEED_CLIENT_*``) configured in
settings, if any. Idempotent: what exists is left as it is.

Run after ``alembic upgrade head``: ``python -m identity_svc.seed``.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.keys.service import ensure_signing_key
from identity_svc.passwords import Passwords
from identity_svc.personal_data import PersonalData
from identity_svc.settings import IdentitySettings
from identity_svc.staff.service import new_staff_account
from identity_svc.tokens import repository as tokens
from identity_svc.tokens.service import register_client
from servicekit.db import run_seed, utcnow

MIN_CLIENT_SECRET_LENGTH = 32


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
    await _seed_admin(session, settings, passwords)
    if not settings.seed_client_id:
        return
    if await tokens.client(session, settings.seed_client_id) is not None:
        return
    secret = settings.seed_client_secret.get_secret_value()
    if len(secret) < MIN_CLIENT_SECRET_LENGTH:
        raise ValueError(
            f"IDENTITY_SEED_CLIENT_SECRET needs at least {MIN_CLIENT_SECRET_LENGTH} characters"
        )
    await register_client(
        session=session,
        passwords=passwords,
        client_id=settings.seed_client_id,
        client_secret=secret,
        name=settings.seed_client_name or settings.seed_client_id,
        typ=settings.seed_client_type,
        dept=settings.seed_client_dept,
        scopes=settings.seed_client_scopes,
        now=now,
    )


async def _seed_admin(
    session: AsyncSession, settings: IdentitySettings, passwords: Passwords
) -> None:
    if not settings.seed_admin_phone:
        return
    personal_data = PersonalData(
        encryption_key=settings.personal_data_key_bytes, lookup_key=settings.lookup_hash_key_bytes
    )
    phone_hash = personal_data.lookup_hash("phone", settings.seed_admin_phone)
    if await accounts.by_phone_hash(session, phone_hash) is not None:
        return
    await new_staff_account(
        session=session,
        personal_data=personal_data,
        passwords=passwords,
        phone=settings.seed_admin_phone,
        password=settings.seed_admin_password.get_secret_value(),
        dept=None,
        roles=["platform_admin"],
        created_by=None,
        now=utcnow(),
    )


if __name__ == "__main__":
    run_seed(seed, IdentitySettings())
