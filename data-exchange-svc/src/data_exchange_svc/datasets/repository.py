"""Every query on the hosted datasets' rows (the population registry has its own table)."""

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.models import HostedRecord

#: Bound parameters per IN list: well under every backend's limit.
_CHUNK = 500


#: Every call and match on a hosted resource reads this: built once.
_ROWS_OF = (
    select(HostedRecord)
    .where(
        HostedRecord.resource_code == bindparam("resource_code"),
        HostedRecord.subject_hash == bindparam("subject_hash"),
    )
    .order_by(HostedRecord.position)
)


async def rows_of(
    session: AsyncSession, resource_code: str, subject_hash: str
) -> list[HostedRecord]:
    rows = await session.scalars(
        _ROWS_OF, {"resource_code": resource_code, "subject_hash": subject_hash}
    )
    return list(rows.all())


async def subjects_present(
    session: AsyncSession, resource_code: str, subject_hashes: Collection[str] | None = None
) -> set[str]:
    """Which of the subjects (all, when None) the resource holds rows of."""
    base = select(HostedRecord.subject_hash).where(HostedRecord.resource_code == resource_code)
    if subject_hashes is None:
        return set((await session.scalars(base.distinct())).all())
    wanted = list(subject_hashes)
    present: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        statement = base.where(HostedRecord.subject_hash.in_(chunk)).distinct()
        present.update((await session.scalars(statement)).all())
    return present


async def delete_rows_of(
    session: AsyncSession, resource_code: str, subject_hashes: Collection[str]
) -> None:
    wanted = list(subject_hashes)
    for start in range(0, len(wanted), _CHUNK):
        await session.execute(
            delete(HostedRecord).where(
                HostedRecord.resource_code == resource_code,
                HostedRecord.subject_hash.in_(wanted[start : start + _CHUNK]),
            )
        )


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One multi-row INSERT per batch, as the population registry's."""
    if rows:
        await session.execute(insert(HostedRecord), list(rows))
