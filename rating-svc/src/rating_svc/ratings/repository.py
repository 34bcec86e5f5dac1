"""Every query rating-svc makes about ratings."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.models import Rating


async def of_case(session: AsyncSession, case_no: str, kind: str) -> Rating | None:
    rating: Rating | None = await session.scalar(
        select(Rating).where(Rating.case_no == case_no, Rating.kind == kind)
    )
    return rating


async def get(session: AsyncSession, rating_id: uuid.UUID) -> Rating | None:
    return await session.get(Rating, rating_id)


async def add(session: AsyncSession, rating: Rating) -> None:
    session.add(rating)
    await session.flush()
