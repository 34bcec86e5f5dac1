"""Every query catalog-svc makes about one-issue bundles."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.models import Bundle, ServiceItem


async def every(session: AsyncSession) -> list[Bundle]:
    return list(await session.scalars(select(Bundle).order_by(Bundle.code)))


async def get(session: AsyncSession, code: str) -> Bundle | None:
    return await session.get(Bundle, code)


async def items(session: AsyncSession, codes: Sequence[str]) -> dict[str, ServiceItem]:
    if not codes:
        return {}
    found = await session.scalars(select(ServiceItem).where(ServiceItem.code.in_(codes)))
    return {item.code: item for item in found}
