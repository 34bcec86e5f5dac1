"""What a resource holds now of a batch's subjects, as far as a load's checks need: the regions
that place each subject (for the provider's jurisdiction) and its identity-critical values (to
find the changes that wait for a data steward).

Values are compared in a form that needs no decryption: a face template packed as stored, an
identity number by its keyed hash, anything else as its canonical JSON value.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import JsonValue
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.datasets import repository
from data_exchange_svc.datasets.records import SubjectRows
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.registry import repository as registry_repository
from data_exchange_svc.registry.service import packed_template
from data_exchange_svc.resources.spec import POPULATION, ResourceSpec

#: Where a resource without a jurisdiction field finds its subjects' domicile, per subject kind.
DOMICILE = {"person": "population", "enterprise": "business_registration"}
_DOMICILE_FIELD = "registered_region"

Comparable = JsonValue | bytes


@dataclass(frozen=True, slots=True)
class Standing:
    """One subject as the resource holds it now."""

    present: bool
    #: The regions that place the subject now: its held rows' jurisdiction field, or, for a
    #: resource without one, its domicile. Empty when nothing places it.
    regions: tuple[str, ...]
    #: The held identity-critical values (see ``critical_values``); empty when not present.
    critical: Mapping[str, Comparable]


def critical_values(
    spec: ResourceSpec, values: Mapping[str, JsonValue], protector: IdentifierProtector
) -> dict[str, Comparable]:
    """A loaded row's identity-critical values, in the form they are compared in."""
    comparable: dict[str, Comparable] = {}
    for field in spec.loaded_fields:
        if not field.identity_critical:
            continue
        value = values.get(field.name)
        if field.type == "face_template":
            comparable[field.name] = packed_template(values)
        elif field.type == "id_number" and isinstance(value, str):
            comparable[field.name] = protector.lookup_hash(value)
        else:
            comparable[field.name] = value
    return comparable


async def _domiciles(
    session: AsyncSession, groups: Mapping[str, SubjectRows]
) -> dict[str, tuple[str, ...]]:
    persons = [key for key, group in groups.items() if group.subject.kind == "person"]
    enterprises = [key for key, group in groups.items() if group.subject.kind == "enterprise"]
    found: dict[str, tuple[str, ...]] = {}
    for key, record in (await registry_repository.records_by_hash(session, persons)).items():
        found[key] = (record.registered_region,)
    registrations = await repository.rows_of_subjects(session, DOMICILE["enterprise"], enterprises)
    for key, rows in registrations.items():
        found[key] = tuple(str(row.field_values[_DOMICILE_FIELD]) for row in rows)
    return found


async def standings(
    session: AsyncSession, spec: ResourceSpec, groups: Mapping[str, SubjectRows]
) -> dict[str, Standing]:
    """Each subject of the batch (keyed by its subject hash) as the resource holds it now."""
    domiciles = await _domiciles(session, groups) if spec.jurisdiction is None else {}
    critical = [field for field in spec.loaded_fields if field.identity_critical]
    found: dict[str, Standing] = {}
    if spec.code == POPULATION.code:
        records = await registry_repository.records_by_hash(session, groups.keys())
        for key, record in records.items():
            # The registry's columns are its fields; the face template is stored packed.
            held: dict[str, Comparable] = {
                field.name: getattr(record, field.name) for field in critical
            }
            found[key] = Standing(True, (record.registered_region,), held)
    else:
        rows_by_subject = await repository.rows_of_subjects(session, spec.code, groups.keys())
        for key, rows in rows_by_subject.items():
            regions = (
                tuple(str(row.field_values[spec.jurisdiction]) for row in rows)
                if spec.jurisdiction is not None
                else domiciles.get(key, ())
            )
            values: dict[str, Comparable] = {}
            if critical and rows:
                for field in critical:
                    if field.type == "id_number":
                        values[field.name] = rows[0].identifier_hashes.get(field.name)
                    else:
                        values[field.name] = rows[0].field_values.get(field.name)
            found[key] = Standing(True, regions, values)
    for key in groups:
        if key not in found:
            found[key] = Standing(False, domiciles.get(key, ()), {})
    return found
