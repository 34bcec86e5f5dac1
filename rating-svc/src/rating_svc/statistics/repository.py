"""Every query rating-svc makes about the roll-ups."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.models import RatingRollup
from rating_svc.statistics.rollups import COUNTERS, KEY_COLUMNS
from servicekit.db import insert_for

#: The roll-ups' upsert, built once per backend: every rating runs it, and building it (an
#: ``excluded`` sum per counter) and keying it anew cost a rating more than running it.
_UPSERT: dict[str, Any] = {}


def _upsert_statement(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    statement = _UPSERT.get(dialect)
    if statement is None:
        table = RatingRollup.__table__
        inserted = insert_for(session, table)
        statement = _UPSERT[dialect] = inserted.on_conflict_do_update(
            index_elements=list(KEY_COLUMNS),
            set_={name: table.c[name] + inserted.excluded[name] for name in COUNTERS},
        )
    return statement


async def add(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Add the rows' counts to the roll-ups, creating those not there yet: one statement, safe
    when writers add to the same rows at once on both backends."""
    if not rows:
        return
    # Its parameters apart: sent as one multi-row INSERT on PostgreSQL (insertmanyvalues).
    await session.execute(_upsert_statement(session), rows)


_ROLLUP = RatingRollup.__table__
_SUMS = [func.coalesce(func.sum(_ROLLUP.c[name]), 0) for name in COUNTERS]
_PERIODS = (
    _ROLLUP.c.dimension == bindparam("dimension"),
    _ROLLUP.c.scope == bindparam("scope"),
    _ROLLUP.c.granularity == bindparam("granularity"),
    _ROLLUP.c.period_start.between(bindparam("start"), bindparam("end")),
)
# Built once, parameters apart: building the statement again per read (its expression, then
# its cache key to find the compiled form) and converting each row took a ranking's fetch from
# about 5 to 7 ms.
_TOTALS = select(*_SUMS).where(*_PERIODS, _ROLLUP.c.key == bindparam("key"))
_BY_KEY = select(_ROLLUP.c.key, *_SUMS).where(*_PERIODS).group_by(_ROLLUP.c.key)


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
    """The counts summed over the periods starting from ``start`` to ``end`` (inclusive), in
    ``COUNTERS`` order."""
    parameters = {
        "dimension": dimension,
        "scope": scope,
        "key": key,
        "granularity": granularity,
        "start": start,
        "end": end,
    }
    return tuple((await session.execute(_TOTALS, parameters)).one())


async def by_key(
    session: AsyncSession,
    *,
    dimension: str,
    scope: str,
    granularity: str,
    start: dt.date,
    end: dt.date,
) -> Sequence[tuple[str, Sequence[int]]]:
    """Each key's counts under the scope (``COUNTERS`` order), summed over the periods."""
    parameters = {
        "dimension": dimension,
        "scope": scope,
        "granularity": granularity,
        "start": start,
        "end": end,
    }
    result = await session.execute(_BY_KEY, parameters)
    return [(key, counts) for key, *counts in result]
