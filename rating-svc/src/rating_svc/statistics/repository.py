"""Every query rating-svc makes about the roll-ups."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.models import RatingRollup
from rating_svc.statistics.rollups import COUNTERS, KEY_COLUMNS
from servicekit.db import insert_for


async def add(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Add the rows' counts to the roll-ups, creating those not there yet: one statement, safe
    when writers add to the same rows at once on both backends."""
    if not rows:
        return
    table = RatingRollup.__table__
    # One statement for every row, its parameters apart: compiled once and cached, sent as one
    # multi-row INSERT on PostgreSQL (insertmanyvalues).
    statement = insert_for(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY_COLUMNS),
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTERS},
    )
    await session.execute(statement, rows)


def _sums() -> list[ColumnElement[Any]]:
    return [func.coalesce(func.sum(RatingRollup.__table__.c[name]), 0) for name in COUNTERS]


async def totals(
    session: AsyncSession,
    *,
    dimension: str,
    scope: str,
    key: str,
    granularity: str,
    start: dt.date,
    end: dt.date,
) -> Sequence[int]:
    """The counts summed over the periods starting from ``start`` to ``end`` (inclusive)."""
    row = (
        await session.execute(
            select(*_sums()).where(
                RatingRollup.dimension == dimension,
                RatingRollup.scope == scope,
                RatingRollup.key == key,
                RatingRollup.granularity == granularity,
                RatingRollup.period_start.between(start, end),
            )
        )
    ).one()
    return [int(value) for value in row]


async def by_key(
    session: AsyncSession,
    *,
    dimension: str,
    scope: str,
    granularity: str,
    start: dt.date,
    end: dt.date,
) -> Sequence[tuple[str, Sequence[int]]]:
    """Each key's counts under the scope, summed over the periods."""
    result = await session.execute(
        select(RatingRollup.key, *_sums())
        .where(
            RatingRollup.dimension == dimension,
            RatingRollup.scope == scope,
            RatingRollup.granularity == granularity,
            RatingRollup.period_start.between(start, end),
        )
        .group_by(RatingRollup.key)
    )
    return [(row[0], [int(value) for value in row[1:]]) for row in result.all()]
