"""Writing checked records into a hosted resource: per subject, all its rows at once.

A provider's load replaces each named subject's rows with the batch's (an upsert per subject:
loading the same batch twice leaves the same data); the seed only adds subjects that are
missing, so that what providers loaded since is kept. Inserts go in multi-row batches.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.datasets import repository
from data_exchange_svc.datasets.holdings import sealing_binding
from data_exchange_svc.datasets.records import SubjectRows
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.registry import repository as registry_repository
from data_exchange_svc.registry.service import new_row, packed_template, stored_columns
from data_exchange_svc.resources.spec import POPULATION, ResourceSpec
from servicekit.db import utcnow
from servicekit.ids import new_id

#: Rows per INSERT statement.
BATCH = 2000


@dataclass(frozen=True, slots=True)
class LoadCounts:
    #: Subjects the resource did not hold before.
    created: int
    #: Subjects whose rows were replaced.
    replaced: int
    #: Subjects left as they were (the seed does not overwrite).
    kept: int
    #: Rows written.
    rows: int


def hosted_row(
    spec: ResourceSpec,
    subject_hash: str,
    position: int,
    values: dict[str, JsonValue],
    protector: IdentifierProtector,
    now: dt.datetime,
) -> dict[str, Any]:
    clear: dict[str, JsonValue] = {}
    sealed: dict[str, JsonValue] = {}
    hashes: dict[str, str] = {}
    for name, value in values.items():
        field = spec.field(name)
        if not field.sealed:
            clear[name] = value
            continue
        sealed[name] = value
        if field.type == "id_number" and isinstance(value, str):
            hashes[name] = protector.lookup_hash(value)
    binding = sealing_binding(spec.code, subject_hash, position)
    return {
        "id": new_id(),
        "resource_code": spec.code,
        "subject_hash": subject_hash,
        "position": position,
        "field_values": clear,
        "sealed_values": protector.seal_fields(sealed, binding=binding) if sealed else None,
        "identifier_hashes": hashes,
        "updated_at": now,
    }


async def _insert_in_batches(
    session: AsyncSession, rows: list[dict[str, Any]], *, population: bool
) -> None:
    insert_many = registry_repository.insert_many if population else repository.insert_many
    for start in range(0, len(rows), BATCH):
        await insert_many(session, rows[start : start + BATCH])


async def _store_population(
    session: AsyncSession,
    groups: dict[str, SubjectRows],
    protector: IdentifierProtector,
    *,
    replace: bool,
) -> LoadCounts:
    present = await registry_repository.ids_by_hash(session, groups.keys())
    now = utcnow()
    inserts = [
        new_row(
            group.subject.identifier,
            group.rows[0],
            face_template=packed_template(group.rows[0]),
            protector=protector,
            now=now,
        )
        for subject_hash, group in groups.items()
        if subject_hash not in present
    ]
    updates = [
        {
            "id": present[subject_hash],
            **stored_columns(group.rows[0]),
            "face_template": packed_template(group.rows[0]),
            "updated_at": now,
        }
        for subject_hash, group in groups.items()
        if replace and subject_hash in present
    ]
    await _insert_in_batches(session, inserts, population=True)
    await registry_repository.update_many(session, updates)
    kept = 0 if replace else len(present)
    return LoadCounts(len(inserts), len(updates), kept, len(inserts) + len(updates))


async def store(
    session: AsyncSession,
    spec: ResourceSpec,
    subjects: Sequence[SubjectRows],
    protector: IdentifierProtector,
    *,
    replace: bool,
) -> LoadCounts:
    """Write the subjects' rows: replacing what the resource holds of them (``replace``), or
    only for subjects it does not hold yet."""
    groups = {protector.subject_hash(group.subject): group for group in subjects}
    if spec.code == POPULATION.code:
        return await _store_population(session, groups, protector, replace=replace)
    present = await repository.subjects_present(session, spec.code, groups.keys())
    if replace:
        await repository.delete_rows_of(session, spec.code, present)
    now = utcnow()
    rows = [
        hosted_row(spec, subject_hash, position, values, protector, now)
        for subject_hash, group in groups.items()
        if replace or subject_hash not in present
        for position, values in enumerate(group.rows)
    ]
    await _insert_in_batches(session, rows, population=False)
    replaced = len(present) if replace else 0
    kept = 0 if replace else len(present)
    return LoadCounts(len(groups) - len(present), replaced, kept, len(rows))
