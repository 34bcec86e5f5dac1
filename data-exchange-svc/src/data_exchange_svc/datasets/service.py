"""A provider's bulk load: only a system of the owning department type loads a resource, only
records of its own jurisdiction, and only whole, valid batches. Every write is a ledger entry.

Who counts as the owner follows the grants' rule for the provider: the token's department
(``<region code>-<department type>``) is of the resource's owner type; here, for a machine
(a department system, or a platform service acting for a department), not a person.

Jurisdiction: the department loads a subject only if every region that places the subject, as
the batch states it and as the exchange holds it, lies within the department's region (see
``resources/specs.toml``: a resource's ``jurisdiction`` field, else the subject's domicile). A
county bureau keeps its county's records; a subject placed nowhere is the province's.

A second person: a batch that changes an identity-critical field of a subject already held (a
name, a face template, a legal representative) is not loaded but held as a record change for a
data steward to decide (see datasets.changes). New subjects and other fields load at once.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.datasets import store
from data_exchange_svc.datasets.records import RawRecord, SubjectRows, check_records
from data_exchange_svc.datasets.schemas import RecordLoad
from data_exchange_svc.datasets.standing import Standing, critical_values, standings
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.jurisdiction import Department, department_of
from data_exchange_svc.ledger.appender import LedgerAppender, Receipt
from data_exchange_svc.ledger.service import record_loads
from data_exchange_svc.lifeevents import publishing
from data_exchange_svc.lifeevents.publishing import Publication
from data_exchange_svc.resources.catalogue import Catalogue
from data_exchange_svc.resources.service import catalogued_resource, hosted_spec
from data_exchange_svc.resources.spec import ResourceSpec
from servicekit.auth import Principal, require_type
from servicekit.problems import DomainError, Forbidden, OutsideJurisdiction, extension_members
from servicekit.regions import InvalidRegionCode, RegionCode, RegionLevel

#: The most errors one refusal lists.
MAX_ERRORS = 50
#: The purpose a load's ledger entries give: a provider keeping its records.
LOAD_PURPOSE = "record_maintenance"


class NotTheOwner(Forbidden):
    code = "not_the_owner"
    title = "Only a system of the department that owns the resource loads its records"
    members = extension_members(
        resource={
            "type": "string",
            "description": "The data resource's code",
            "examples": ["population"],
        }
    )


class InvalidRecords(DomainError):
    status = 422
    code = "invalid_record"
    title = "Some records do not fit the resource; nothing was loaded"
    members = extension_members(
        errors={
            "type": "array",
            "description": "One entry per field of a row that does not fit",
            "items": {
                "type": "object",
                "properties": {
                    "row": {"type": "integer"},
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["row", "field", "message"],
            },
            "examples": [
                [
                    {
                        "row": 1,
                        "field": "birth_date",
                        "message": "the identity number says 1952-03-14",
                    }
                ]
            ],
        }
    )


@dataclass(frozen=True, slots=True)
class Loaded:
    """A batch written: its counts and one ledger receipt per subject, in batch order."""

    counts: store.LoadCounts
    receipts: list[Receipt]


@dataclass(frozen=True, slots=True)
class SubjectChange:
    """A held subject whose identity-critical fields the batch changes."""

    row: int
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Assessed:
    """A checked batch: its subjects by subject hash, and the identity-critical changes."""

    spec: ResourceSpec
    provider: Department
    groups: dict[str, SubjectRows]
    changes: list[SubjectChange]


def provider_of(principal: Principal, spec: ResourceSpec) -> Department:
    """The department a loading system acts for, if it owns the resource."""
    require_type(principal, "department_system", "service")
    provider = department_of(principal)
    if provider is None or provider.type != spec.owner_department_type:
        raise NotTheOwner(resource=spec.code)
    return provider


def _covered(provider: Department, regions: Sequence[str]) -> bool:
    if not regions:
        # Nothing places the subject: only the province answers for it.
        return provider.region.level is RegionLevel.PROVINCE
    try:
        return all(provider.covers(RegionCode.parse(region)) for region in regions)
    except InvalidRegionCode:
        return False


def _placing(spec: ResourceSpec, group: SubjectRows, standing: Standing) -> list[str]:
    stated = (
        [str(row[spec.jurisdiction]) for row in group.rows] if spec.jurisdiction is not None else []
    )
    return [*stated, *standing.regions]


def _changes(
    spec: ResourceSpec,
    groups: Mapping[str, SubjectRows],
    held: Mapping[str, Standing],
    protector: IdentifierProtector,
) -> list[SubjectChange]:
    changes = []
    for key, group in groups.items():
        standing = held[key]
        if not standing.present or not standing.critical:
            continue
        loaded = critical_values(spec, group.rows[0], protector)
        changed = tuple(name for name, value in loaded.items() if standing.critical[name] != value)
        if changed:
            changes.append(SubjectChange(min(group.indexes), changed))
    return changes


async def assess(
    session: AsyncSession,
    spec: ResourceSpec,
    provider: Department,
    records: Sequence[RecordLoad],
    *,
    protector: IdentifierProtector,
    today: dt.date,
) -> Assessed:
    """Check a batch: every record valid, every subject within the provider's jurisdiction;
    and find which held subjects it changes identity-critical fields of."""
    raw = [
        RawRecord(record.subject.id_number, record.subject.credit_code, record.fields)
        for record in records
    ]
    subjects, errors = check_records(spec, raw, today=today)
    if errors:
        raise InvalidRecords(
            f"{len(errors)} problem(s); the first at record {errors[0].row}, field "
            f"{errors[0].field}",
            errors=[error.document() for error in errors[:MAX_ERRORS]],
        )
    groups = {protector.subject_hash(group.subject): group for group in subjects}
    held = await standings(session, spec, groups)
    outside = sorted(
        min(group.indexes)
        for key, group in groups.items()
        if not _covered(provider, _placing(spec, group, held[key]))
    )
    if outside:
        raise OutsideJurisdiction(
            f"{len(outside)} subject(s) lie outside {provider.id}'s region",
            department=provider.id,
            rows=outside[:MAX_ERRORS],
        )
    return Assessed(spec, provider, groups, _changes(spec, groups, held, protector))


async def write(
    session: AsyncSession,
    assessed: Assessed,
    *,
    actor: str,
    purpose: str = LOAD_PURPOSE,
    protector: IdentifierProtector,
    ledger: LedgerAppender,
    publication: Publication,
) -> Loaded:
    """Record the batch's writes in the ledger, then write them. The entries come first: on
    SQLite the request's write would hold the lock the ledger's own transaction needs. A write
    that then fails leaves the ledger showing more than was done, never less.

    The life events the batch makes (a birth, a marriage) are found against what was held
    before it, and published with it (``lifeevents.publishing``): their deliveries' entries
    come first too."""
    spec = assessed.spec
    planned = await publishing.prepare(
        session,
        spec,
        assessed.groups,
        publication,
        ledger=ledger,
        protector=protector,
        actor=actor,
    )
    receipts = await record_loads(
        ledger,
        consumer=assessed.provider.id,
        actor=actor,
        resource=spec.code,
        fields=tuple(field.name for field in spec.loaded_fields),
        purpose=purpose,
        subject_hashes=list(assessed.groups),
    )
    counts = await store.store(
        session, spec, list(assessed.groups.values()), protector, replace=True
    )
    await publishing.publish(session, planned, publication, recorded_by=assessed.provider.id)
    return Loaded(counts, receipts)


async def prepare(
    session: AsyncSession,
    principal: Principal,
    code: str,
    records: Sequence[RecordLoad],
    *,
    protector: IdentifierProtector,
    catalogue: Catalogue,
    today: dt.date,
) -> Assessed:
    """A batch sent by ``principal``, checked (see ``assess``)."""
    require_type(principal, "department_system", "service")
    resource = await catalogued_resource(catalogue, code)
    spec = hosted_spec(resource)
    provider = provider_of(principal, spec)
    return await assess(session, spec, provider, records, protector=protector, today=today)
