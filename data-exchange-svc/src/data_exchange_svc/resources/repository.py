"""Every query on data resources and their fields."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from data_exchange_svc.models import DataResource, ResourceField


async def get(session: AsyncSession, code: str) -> DataResource | None:
    resource: DataResource | None = await session.scalar(
        select(DataResource)
        .where(DataResource.code == code)
        .options(selectinload(DataResource.fields))
    )
    return resource


async def page(session: AsyncSession, *, after: str | None, limit: int) -> list[DataResource]:
    statement = select(DataResource).options(selectinload(DataResource.fields))
    if after is not None:
        statement = statement.where(DataResource.code > after)
    statement = statement.order_by(DataResource.code).limit(limit)
    return list((await session.scalars(statement)).all())


async def add(session: AsyncSession, resource: DataResource, fields: list[ResourceField]) -> None:
    session.add(resource)
    session.add_all(fields)
    await session.flush()


async def add_fields(session: AsyncSession, fields: list[ResourceField]) -> None:
    session.add_all(fields)
    await session.flush()


async def everything(session: AsyncSession) -> list[DataResource]:
    """The whole catalogue with its fields (two queries): what each process keeps in memory."""
    statement = select(DataResource).options(selectinload(DataResource.fields))
    return list((await session.scalars(statement.order_by(DataResource.code))).all())
