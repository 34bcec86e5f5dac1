"""Every query about items' live quality: the counts' upserts (one statement each, safe when
events of the same item and department are processed at once) and the reads of what changed."""

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.models import ItemQuality, ItemWorkingDays
from servicekit.db import insert_for

COUNTERS = ("ratings", "satisfied", "bad_reviews", "completed")


async def add_counts(
    session: AsyncSession,
    *,
    item_code: str,
    department_id: str,
    deltas: dict[str, int],
    now: dt.datetime,
) -> None:
    """Add ``deltas`` (counter → change) to the item's counts for the department."""
    table = ItemQuality.__table__
    statement = insert_for(session, table).values(
        item_code=item_code,
        department_id=department_id,
        changed_at=now,
        **{name: deltas.get(name, 0) for name in COUNTERS},
    )
    statement = statement.on_conflict_do_update(
        index_elements=["item_code", "department_id"],
        set_={
            "changed_at": now,
            **{name: table.c[name] + statement.excluded[name] for name in COUNTERS},
        },
    )
    await session.execute(statement)


async def add_working_days(
    session: AsyncSession,
    *,
    item_code: str,
    department_id: str,
    working_days: int,
    now: dt.datetime,
) -> None:
    """One more completed case that took ``working_days``."""
    table = ItemWorkingDays.__table__
    statement = insert_for(session, table).values(
        item_code=item_code,
        department_id=department_id,
        working_days=working_days,
        cases=1,
        changed_at=now,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["item_code", "department_id", "working_days"],
        set_={"changed_at": now, "cases": table.c.cases + 1},
    )
    await session.execute(statement)


async def counts_changed_since(
    session: AsyncSession, since: dt.datetime | None
) -> Sequence[tuple[str, str, int, int, int, int]]:
    """(item, department, ratings, satisfied, bad reviews, completed) of the rows changed at
    or after ``since`` (every row when None)."""
    query = select(
        ItemQuality.item_code,
        ItemQuality.department_id,
        ItemQuality.ratings,
        ItemQuality.satisfied,
        ItemQuality.bad_reviews,
        ItemQuality.completed,
    )
    if since is not None:
        query = query.where(ItemQuality.changed_at >= since)
    rows = await session.execute(query)
    return [(item, department, r, s, b, c) for item, department, r, s, b, c in rows]


async def working_days_changed_since(
    session: AsyncSession, since: dt.datetime | None
) -> Sequence[tuple[str, str, int, int]]:
    """(item, department, working days, cases) of the histogram rows changed at or after
    ``since`` (every row when None)."""
    query = select(
        ItemWorkingDays.item_code,
        ItemWorkingDays.department_id,
        ItemWorkingDays.working_days,
        ItemWorkingDays.cases,
    )
    if since is not None:
        query = query.where(ItemWorkingDays.changed_at >= since)
    rows = await session.execute(query)
    return [(item, department, days, cases) for item, department, days, cases in rows]
