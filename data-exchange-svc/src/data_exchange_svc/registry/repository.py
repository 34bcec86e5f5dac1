"""Every query on the population registry."""

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.models import PopulationRecord

#: Bound parameters per IN list: well under every backend's limit.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One person as ``population_record`` holds them, read as a plain row: a call reads a
    record and never changes it, so it needs no ORM entity (whose loading and identity map cost
    more than the row itself)."""

    id: uuid.UUID
    id_number_hash: str
    id_number_sealed: bytes
    name: str
    sex: str
    birth_date: dt.date
    ethnicity: str
    registered_address: str
    registered_region: str
    id_card_status: str
    face_template: bytes
    updated_at: dt.datetime


_RECORD = PopulationRecord.__table__

#: Every call and match about a person reads this: built once (building a statement and its
#: cache key per call cost more than sending it).
_BY_HASH = select(*_RECORD.c).where(_RECORD.c.id_number_hash == bindparam("id_number_hash"))


async def get_by_hash(session: AsyncSession, id_number_hash: str) -> PersonRecord | None:
    row = (await session.execute(_BY_HASH, {"id_number_hash": id_number_hash})).one_or_none()
    return None if row is None else PersonRecord(**row._mapping)


async def existing_hashes(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(PopulationRecord.id_number_hash))).all())


async def ids_by_hash(session: AsyncSession, hashes: Collection[str]) -> dict[str, uuid.UUID]:
    """The ids of the records, among ``hashes``, that the registry holds."""
    wanted = list(hashes)
    found: dict[str, uuid.UUID] = {}
    for start in range(0, len(wanted), _CHUNK):
        statement = select(PopulationRecord.id_number_hash, PopulationRecord.id).where(
            PopulationRecord.id_number_hash.in_(wanted[start : start + _CHUNK])
        )
        found.update({row.id_number_hash: row.id for row in await session.execute(statement)})
    return found


async def records_by_hash(
    session: AsyncSession, hashes: Collection[str]
) -> dict[str, PersonRecord]:
    """The records, among ``hashes``, that the registry holds (what a load replaces)."""
    wanted = list(hashes)
    found: dict[str, PersonRecord] = {}
    for start in range(0, len(wanted), _CHUNK):
        statement = select(*_RECORD.c).where(
            _RECORD.c.id_number_hash.in_(wanted[start : start + _CHUNK])
        )
        for row in await session.execute(statement):
            record = PersonRecord(**row._mapping)
            found[record.id_number_hash] = record
    return found


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One multi-row INSERT per batch (no ORM unit of work): thousands of rows in well under a
    second on either backend."""
    if rows:
        await session.execute(insert(PopulationRecord), list(rows))


async def update_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Update records by id, each row a dict with ``id`` and the columns to set."""
    if rows:
        await session.execute(update(PopulationRecord), list(rows))


async def identities_by_hash(
    session: AsyncSession, hashes: Collection[str]
) -> dict[str, tuple[bytes, str]]:
    """For each of ``hashes`` the registry holds: the sealed identity number and the
    registered region."""
    wanted = list(hashes)
    found: dict[str, tuple[bytes, str]] = {}
    for start in range(0, len(wanted), _CHUNK):
        statement = select(
            _RECORD.c.id_number_hash, _RECORD.c.id_number_sealed, _RECORD.c.registered_region
        ).where(_RECORD.c.id_number_hash.in_(wanted[start : start + _CHUNK]))
        for id_number_hash, sealed, region in await session.execute(statement):
            found[id_number_hash] = (sealed, region)
    return found
