"""Every query on sharing grants."""

import datetime as dt
import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.models import SharingGrant


async def active_for(
    session: AsyncSession, *, consumer: str, resource_code: str, now: dt.datetime
) -> list[SharingGrant]:
    statement = select(SharingGrant).where(
        SharingGrant.consumer == consumer,
        SharingGrant.resource_code == resource_code,
        SharingGrant.status == "approved",
        SharingGrant.revoked_at.is_(None),
        or_(SharingGrant.expires_at.is_(None), SharingGrant.expires_at > now),
    )
    return list((await session.scalars(statement)).all())


async def exists_for(session: AsyncSession, *, consumer: str, resource_code: str) -> bool:
    """Whether the consumer ever held a grant on the resource, active or not."""
    found = await session.scalar(
        select(SharingGrant.id)
        .where(SharingGrant.consumer == consumer, SharingGrant.resource_code == resource_code)
        .limit(1)
    )
    return found is not None


async def add(session: AsyncSession, grant: SharingGrant) -> None:
    session.add(grant)
    await session.flush()


async def get(session: AsyncSession, grant_id: uuid.UUID) -> SharingGrant | None:
    return await session.get(SharingGrant, grant_id)


async def get_for_update(session: AsyncSession, grant_id: uuid.UUID) -> SharingGrant | None:
    """The grant, locked until the transaction ends: two decisions on one grant queue."""
    grant: SharingGrant | None = await session.scalar(
        select(SharingGrant).where(SharingGrant.id == grant_id).with_for_update()
    )
    return grant
