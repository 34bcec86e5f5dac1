"""Every query on the population registry."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.models import PopulationRecord


async def get_by_hash(session: AsyncSession, id_number_hash: str) -> PopulationRecord | None:
    record: PopulationRecord | None = await session.scalar(
        select(PopulationRecord).where(PopulationRecord.id_number_hash == id_number_hash)
    )
    return record


async def existing_hashes(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(PopulationRecord.id_number_hash))).all())


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One multi-row INSERT per batch (no ORM unit of work): thousands of rows in well under a
    second on either backend."""
    if rows:
        await session.execute(insert(PopulationRecord), list(rows))
