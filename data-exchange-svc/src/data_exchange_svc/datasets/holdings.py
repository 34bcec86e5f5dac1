"""What a hosted resource holds about one subject: read for a granted call, compared for a match.

A one-row resource answers each field with its value; a many-row resource with the list of its
rows' values, in the rows' order. A match holds if one row satisfies every claim together (for
certificates: "this number, and valid today"). Identity numbers are compared by keyed hash, and
sealed fields are opened only when a call reads one of them.
"""

import dataclasses
import datetime as dt
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import JsonValue
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.datasets import repository
from data_exchange_svc.datasets.repository import HostedRow
from data_exchange_svc.identifiers import IdentifierProtector, SubjectRef
from data_exchange_svc.registry import repository as registry_repository
from data_exchange_svc.registry.repository import PersonRecord
from data_exchange_svc.registry.service import field_readers
from data_exchange_svc.resources.spec import (
    POPULATION,
    PREDICATE_INPUTS,
    FieldSpec,
    ResourceSpec,
)
from data_exchange_svc.resources.values import claim_holds, predicate_holds
from servicekit.sealing import RowBinding


class Holding(Protocol):
    @property
    def source_timestamp(self) -> dt.datetime:
        """When the subject's data was last loaded or updated."""
        ...

    def read(self, fields: Sequence[FieldSpec]) -> dict[str, JsonValue]: ...

    def placing_regions(self) -> tuple[str, ...]:
        """The regions its rows' jurisdiction field places the subject in (see specs.toml);
        empty for a resource without one."""
        ...

    def holds(self, claims: Mapping[str, str], *, today: dt.date) -> bool: ...


def sealing_binding(resource_code: str, subject_hash: str, position: int) -> RowBinding:
    """What a row's sealed fields are bound to (``HostedRecord.sealed_values``): they open in
    that row only."""
    return RowBinding("hosted_record", (resource_code, subject_hash, str(position)))


@dataclass
class PopulationHolding:
    spec: ResourceSpec
    record: PersonRecord
    protector: IdentifierProtector

    @property
    def source_timestamp(self) -> dt.datetime:
        return self.record.updated_at

    def read(self, fields: Sequence[FieldSpec]) -> dict[str, JsonValue]:
        readers = field_readers(self.record, self.protector)
        return {field.name: readers[field.name]() for field in fields}

    def placing_regions(self) -> tuple[str, ...]:
        return (self.record.registered_region,)

    def holds(self, claims: Mapping[str, str], *, today: dt.date) -> bool:
        readers = field_readers(self.record, self.protector)
        for name, claim in claims.items():
            field = self.spec.field(name)
            if field.is_predicate:
                row = {key: readers[key]() for key in PREDICATE_INPUTS[field.type]}
                if not predicate_holds(field, row, claim, today=today):
                    return False
            elif not claim_holds(field, readers[name](), claim):
                return False
        return True


@dataclass
class HostedHolding:
    spec: ResourceSpec
    subject: SubjectRef
    rows: list[HostedRow]
    protector: IdentifierProtector
    #: The sealed fields of each row opened so far, by position: opened once, when first read.
    _opened: dict[int, dict[str, JsonValue]] = dataclasses.field(default_factory=dict)

    @property
    def source_timestamp(self) -> dt.datetime:
        return max(row.updated_at for row in self.rows)

    def _sealed(self, row: HostedRow) -> dict[str, JsonValue]:
        if row.sealed_values is None:
            return {}
        if row.position not in self._opened:
            binding = sealing_binding(row.resource_code, row.subject_hash, row.position)
            self._opened[row.position] = self.protector.open_fields(
                row.sealed_values, binding=binding
            )
        return self._opened[row.position]

    def _value(self, row: HostedRow, field: FieldSpec) -> JsonValue:
        if field.type == "subject":
            return self.subject.identifier
        if field.sealed:
            return self._sealed(row).get(field.name)
        value: JsonValue = row.field_values.get(field.name)
        return value

    def placing_regions(self) -> tuple[str, ...]:
        key = self.spec.jurisdiction
        return () if key is None else tuple(str(row.field_values[key]) for row in self.rows)

    def read(self, fields: Sequence[FieldSpec]) -> dict[str, JsonValue]:
        if self.spec.rows == "one":
            return {field.name: self._value(self.rows[0], field) for field in fields}
        return {field.name: [self._value(row, field) for row in self.rows] for field in fields}

    def _claim_holds(self, row: HostedRow, field: FieldSpec, claim: str, today: dt.date) -> bool:
        if field.is_predicate:
            return predicate_holds(field, row.field_values, claim, today=today)
        if field.type == "id_number":
            stored = row.identifier_hashes.get(field.name)
            if stored is None:
                return claim.strip() == ""
            return hmac.compare_digest(self.protector.lookup_hash(claim), stored)
        return claim_holds(field, self._value(row, field), claim)

    def holds(self, claims: Mapping[str, str], *, today: dt.date) -> bool:
        return any(
            all(
                self._claim_holds(row, self.spec.field(name), claim, today)
                for name, claim in claims.items()
            )
            for row in self.rows
        )


async def holding_of(
    session: AsyncSession,
    spec: ResourceSpec,
    subject: SubjectRef,
    *,
    subject_hash: str,
    protector: IdentifierProtector,
) -> Holding | None:
    """What the resource holds about the subject; None if nothing."""
    if spec.code == POPULATION.code:
        record = await registry_repository.get_by_hash(session, subject_hash)
        return PopulationHolding(spec, record, protector) if record is not None else None
    rows = await repository.rows_of(session, spec.code, subject_hash)
    return HostedHolding(spec, subject, rows, protector) if rows else None
