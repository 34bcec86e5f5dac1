"""Every query catalog-svc makes about regions."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.models import Region


async def get(session: AsyncSession, code: str) -> Region | None:
    return await session.get(Region, code)


async def get_many(session: AsyncSession, codes: Sequence[str]) -> dict[str, Region]:
    if not codes:
        return {}
    regions = await session.scalars(select(Region).where(Region.code.in_(codes)))
    return {region.code: region for region in regions}


async def current_children(
    session: AsyncSession, parent_code: str, *, after: str | None, limit: int
) -> list[Region]:
    """Current children of a region, by code, from just after ``after``."""
    query = select(Region).where(Region.parent_code == parent_code, Region.status == "current")
    if after is not None:
        query = query.where(Region.code > after)
    return list(await session.scalars(query.order_by(Region.code).limit(limit)))
