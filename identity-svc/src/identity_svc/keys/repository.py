"""Every query identity-svc makes about signing keys."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import SigningKey


async def published(session: AsyncSession) -> Sequence[SigningKey]:
    """Keys not retired, newest first: the first one signs, all of them verify."""
    rows = await session.scalars(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
    )
    return rows.all()


async def add(session: AsyncSession, key: SigningKey) -> None:
    session.add(key)
    await session.flush()
