"""Every query identity-svc makes about the revocation list."""

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import Revocation


async def add(session: AsyncSession, revocations: Sequence[Revocation]) -> None:
    session.add_all(revocations)
    await session.flush()


async def forget_expired(session: AsyncSession, *, now: dt.datetime) -> None:
    """Delete the entries whose tokens have all expired."""
    await session.execute(
        delete(Revocation)
        .where(Revocation.expires_at <= now)
        .execution_options(synchronize_session=False)
    )


async def in_force(
    session: AsyncSession, *, recorded_since: dt.datetime | None, now: dt.datetime
) -> Sequence[Revocation]:
    """The entries still in force, those recorded since a time only when given, oldest first."""
    statement = select(Revocation).where(Revocation.expires_at > now)
    if recorded_since is not None:
        statement = statement.where(Revocation.recorded_at >= recorded_since)
    rows = await session.scalars(statement.order_by(Revocation.recorded_at, Revocation.id))
    return rows.all()
