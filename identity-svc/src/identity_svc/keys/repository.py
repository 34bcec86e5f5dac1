"""Every query identity-svc makes about signing keys."""

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import SigningKey


async def published(
    session: AsyncSession, *, now: dt.datetime, grace: dt.timedelta
) -> Sequence[SigningKey]:
    """Keys that verify now, newest first: those signing, and those superseded less than
    ``grace`` ago (their tokens may still be live)."""
    rows = await session.scalars(
        select(SigningKey)
        .where(
            SigningKey.retired_at.is_(None),
            or_(SigningKey.superseded_at.is_(None), SigningKey.superseded_at > now - grace),
        )
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
    )
    return rows.all()


async def signing(session: AsyncSession) -> SigningKey | None:
    """The newest key not superseded: the one that signs."""
    key: SigningKey | None = await session.scalar(
        select(SigningKey)
        .where(SigningKey.superseded_at.is_(None), SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
        .limit(1)
    )
    return key


async def all_keys(session: AsyncSession) -> Sequence[SigningKey]:
    rows = await session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc()))
    return rows.all()


async def supersede_all(session: AsyncSession, *, now: dt.datetime) -> None:
    await session.execute(
        update(SigningKey)
        .where(SigningKey.superseded_at.is_(None), SigningKey.retired_at.is_(None))
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )


async def retire_superseded(
    session: AsyncSession, *, before: dt.datetime, now: dt.datetime
) -> None:
    """Mark retired the keys superseded before ``before``: they verify nothing any more."""
    await session.execute(
        update(SigningKey)
        .where(SigningKey.retired_at.is_(None), SigningKey.superseded_at <= before)
        .values(retired_at=now)
        .execution_options(synchronize_session=False)
    )


async def add(session: AsyncSession, key: SigningKey) -> None:
    session.add(key)
    await session.flush()
