"""Every query rating-svc makes about ratings."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.models import Rating, Rectification


async def get_by_case(session: AsyncSession, case_no: str) -> Rating | None:
    rating: Rating | None = await session.scalar(select(Rating).where(Rating.case_no == case_no))
    return rating


async def get(session: AsyncSession, rating_id: uuid.UUID) -> Rating | None:
    return await session.get(Rating, rating_id)


async def add(session: AsyncSession, rating: Rating) -> None:
    session.add(rating)
    await session.flush()


async def add_rectification(session: AsyncSession, rectification: Rectification) -> None:
    session.add(rectification)
    await session.flush()
