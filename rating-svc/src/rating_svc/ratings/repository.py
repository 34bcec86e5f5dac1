"""Every query rating-svc makes about ratings."""

import uuid
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.models import Rating
from servicekit.db import insert_for
from servicekit.ids import new_id

_COLUMNS = [attribute.key for attribute in inspect(Rating).column_attrs]
#: The insert of a rating, built once per backend, doing nothing when the case has a rating of
#: its kind already (the unique constraint, not a prior read, settles a race between twins).
_INSERT: dict[str, Any] = {}


def _insert_statement(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    statement = _INSERT.get(dialect)
    if statement is None:
        table = Rating.__table__
        statement = _INSERT[dialect] = (
            insert_for(session, table)
            .on_conflict_do_nothing(index_elements=[table.c.case_no, table.c.kind])
            .returning(table.c.id)
        )
    return statement


async def of_case(session: AsyncSession, case_no: str, kind: str) -> Rating | None:
    rating: Rating | None = await session.scalar(
        select(Rating).where(Rating.case_no == case_no, Rating.kind == kind)
    )
    return rating


async def get(session: AsyncSession, rating_id: uuid.UUID) -> Rating | None:
    return await session.get(Rating, rating_id)


async def add_unless_rated(session: AsyncSession, rating: Rating) -> bool:
    """Insert the rating, given its id here, unless its case has one of its kind already:
    whether it was. One Core statement: the unit of work's bookkeeping for the one row cost a
    rating more than its insert; the rating is not kept in the session (it is not read back
    from there)."""
    rating.id = new_id()
    values = {column: getattr(rating, column) for column in _COLUMNS}
    inserted = await session.scalar(_insert_statement(session), values)
    return inserted is not None
