"""Every query catalog-svc makes about regions."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.models import Region


async def current_children(
    session: AsyncSession, parent_code: str, *, after: str | None, limit: int
) -> list[Region]:
    """Current children of a region, by code, from just after ``after``."""
    query = select(Region).where(Region.parent_code == parent_code, Region.status == "current")
    if after is not None:
        query = query.where(Region.code > after)
    return list(await session.scalars(query.order_by(Region.code).limit(limit)))
