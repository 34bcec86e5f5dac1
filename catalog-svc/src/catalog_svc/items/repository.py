"""Every query catalog-svc makes about service items."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.models import ServiceItem


async def get(session: AsyncSession, code: str) -> ServiceItem | None:
    return await session.get(ServiceItem, code)


async def published(session: AsyncSession) -> list[ServiceItem]:
    query = select(ServiceItem).where(ServiceItem.status == "published")
    return list(await session.scalars(query.order_by(ServiceItem.code)))
