"""Every query identity-svc makes about accounts."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import Account


async def get(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    return await session.get(Account, account_id)


async def get_by_text_id(session: AsyncSession, account_id: str) -> Account | None:
    """The account of a token's ``sub``; ``None`` when it is not an account id at all."""
    try:
        parsed = uuid.UUID(account_id)
    except ValueError:
        return None
    return await session.get(Account, parsed)


async def by_phone_hash(session: AsyncSession, phone_hash: str) -> Account | None:
    account: Account | None = await session.scalar(
        select(Account).where(Account.phone_hash == phone_hash)
    )
    return account


async def by_id_number_hash(session: AsyncSession, id_number_hash: str) -> Account | None:
    account: Account | None = await session.scalar(
        select(Account).where(Account.id_number_hash == id_number_hash)
    )
    return account


async def claiming(session: AsyncSession, id_number_hash: str) -> Sequence[Account]:
    """The accounts whose pending real-name claim names this ID number."""
    found = await session.scalars(
        select(Account).where(Account.claimed_id_number_hash == id_number_hash)
    )
    return found.all()


async def add(session: AsyncSession, account: Account) -> None:
    session.add(account)
    await session.flush()


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def reload(session: AsyncSession, account: Account) -> None:
    """Read the account's row again (another request changed it)."""
    await session.refresh(account)
