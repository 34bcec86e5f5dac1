"""Every query on the hosted datasets' rows (the population registry has its own table) and on
the record changes held for a data steward."""

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.models import HostedRecord, RecordChange

#: Bound parameters per IN list: well under every backend's limit.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class HostedRow:
    """One row of a hosted dataset as a call or a match reads it: a plain row, since neither
    changes it (an ORM entity's loading and identity map cost more than the row itself)."""

    resource_code: str
    subject_hash: str
    position: int
    field_values: dict[str, Any]
    sealed_values: bytes | None
    identifier_hashes: dict[str, str]
    updated_at: dt.datetime


_HOSTED = HostedRecord.__table__

#: Every call and match on a hosted resource reads this: built once.
_ROWS_OF = (
    select(*(_HOSTED.c[field.name] for field in fields(HostedRow)))
    .where(
        _HOSTED.c.resource_code == bindparam("resource_code"),
        _HOSTED.c.subject_hash == bindparam("subject_hash"),
    )
    .order_by(_HOSTED.c.position)
)


async def rows_of(session: AsyncSession, resource_code: str, subject_hash: str) -> list[HostedRow]:
    result = await session.execute(
        _ROWS_OF, {"resource_code": resource_code, "subject_hash": subject_hash}
    )
    return [HostedRow(*row) for row in result]


async def rows_of_subjects(
    session: AsyncSession, resource_code: str, subject_hashes: Collection[str]
) -> dict[str, list[HostedRow]]:
    """The rows, in order, of each of the subjects the resource holds (what a load replaces)."""
    wanted = list(subject_hashes)
    found: dict[str, list[HostedRow]] = {}
    columns = [_HOSTED.c[field.name] for field in fields(HostedRow)]
    for start in range(0, len(wanted), _CHUNK):
        statement = (
            select(*columns)
            .where(
                _HOSTED.c.resource_code == resource_code,
                _HOSTED.c.subject_hash.in_(wanted[start : start + _CHUNK]),
            )
            .order_by(_HOSTED.c.subject_hash, _HOSTED.c.position)
        )
        for row in await session.execute(statement):
            hosted = HostedRow(*row)
            found.setdefault(hosted.subject_hash, []).append(hosted)
    return found


async def rows_of_resource(session: AsyncSession, resource_code: str) -> list[HostedRow]:
    """Every row the resource holds (the sweep of dates coming due reads them all)."""
    columns = [_HOSTED.c[field.name] for field in fields(HostedRow)]
    result = await session.execute(select(*columns).where(_HOSTED.c.resource_code == resource_code))
    return [HostedRow(*row) for row in result]


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


async def add_change(session: AsyncSession, change: RecordChange) -> None:
    session.add(change)
    await session.flush()


async def get_change(
    session: AsyncSession, change_id: uuid.UUID, *, lock: bool = False
) -> RecordChange | None:
    statement = select(RecordChange).where(RecordChange.id == change_id)
    if lock:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def changes_page(
    session: AsyncSession,
    *,
    department_type: str,
    region_prefix: str,
    department: str | None,
    status: str | None,
    before: uuid.UUID | None,
    limit: int,
) -> list[RecordChange]:
    """Changes requested by departments of the type at or below the region (or by the one
    ``department``), newest first (ids are UUIDv7: time-ordered)."""
    statement = select(RecordChange).where(
        RecordChange.department_type == department_type,
        RecordChange.department_region.startswith(region_prefix, autoescape=True),
    )
    if department is not None:
        statement = statement.where(RecordChange.department == department)
    if status is not None:
        statement = statement.where(RecordChange.status == status)
    if before is not None:
        statement = statement.where(RecordChange.id < before)
    statement = statement.order_by(RecordChange.id.desc()).limit(limit)
    return list((await session.scalars(statement)).all())
