"""Every query the seed makes: bulk upserts of reference rows, removal of rows the data no
longer has, and the fingerprint of what was loaded."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.models import Base, ReferenceDataset
from servicekit.db import insert_for, utcnow

#: Rows per round of executemany or IN list: well under both backends' limit on bound
#: parameters (32,766).
_CHUNK_ROWS = 1000


def table(name: str) -> Table:
    return Base.metadata.tables[name]


async def loaded_fingerprint(session: AsyncSession, name: str) -> str | None:
    dataset = await session.get(ReferenceDataset, name)
    return dataset.fingerprint if dataset else None


async def record_fingerprint(session: AsyncSession, name: str, fingerprint: str) -> None:
    dataset = await session.get(ReferenceDataset, name)
    if dataset is None:
        session.add(ReferenceDataset(name=name, fingerprint=fingerprint, loaded_at=utcnow()))
    else:
        dataset.fingerprint = fingerprint
        dataset.loaded_at = utcnow()
    await session.flush()


async def upsert(session: AsyncSession, name: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows, or update those whose key exists. One statement, compiled once and
    executed for many rows at a time (the driver's executemany), so that loading the whole
    region tree takes seconds, not minutes."""
    target = table(name)
    key = [column.name for column in target.primary_key.columns]
    statement = insert_for(session, target)
    statement = statement.on_conflict_do_update(
        index_elements=key,
        set_={
            column.name: statement.excluded[column.name]
            for column in target.columns
            if column.name not in key
        },
    )
    # RETURNING makes SQLAlchemy batch the rows into multi-row VALUES ("insertmanyvalues"):
    # one round trip per thousand rows instead of one per row.
    returning = statement.returning(*target.primary_key.columns)
    for start in range(0, len(rows), _CHUNK_ROWS):
        await session.execute(returning, list(rows[start : start + _CHUNK_ROWS]))


async def rows_by_key(session: AsyncSession, name: str) -> dict[str, dict[str, Any]]:
    """Every row of a reference table, as plain dicts, by primary key."""
    target = table(name)
    (key,) = target.primary_key.columns
    result = await session.execute(select(target))
    return {row[key.name]: dict(row) for row in result.mappings()}


async def delete_keys(session: AsyncSession, name: str, doomed: Sequence[str]) -> None:
    target = table(name)
    (key,) = target.primary_key.columns
    for start in range(0, len(doomed), _CHUNK_ROWS):
        await session.execute(delete(target).where(key.in_(doomed[start : start + _CHUNK_ROWS])))


async def withdraw_items(session: AsyncSession, codes: Sequence[str]) -> None:
    """Mark the items withdrawn (and changed now), unless they already are."""
    target = table("service_item")
    now = utcnow()
    for start in range(0, len(codes), _CHUNK_ROWS):
        chunk = codes[start : start + _CHUNK_ROWS]
        await session.execute(
            target.update()
            .where(target.c.code.in_(chunk), target.c.status != "withdrawn")
            .values(status="withdrawn", changed_at=now)
        )
