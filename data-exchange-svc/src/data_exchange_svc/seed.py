"""Reference and demo data of data-exchange-svc: the catalogue entries of the hosted resources,
the grants the platform's own services need (identity-svc's, case-svc's), the synthetic
population registry and the other synthetic datasets. Idempotent: catalogue entries follow
their specs; grants, people and records that exist are left as they are (a provider's later
load is not undone).

Run after ``alembic upgrade head``: ``python -m data_exchange_svc.seed``.
"""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.datasets import repository as datasets_repository
from data_exchange_svc.datasets import store
from data_exchange_svc.datasets.files import dataset_file, read_dataset
from data_exchange_svc.datasets.records import RawRecord, check_records
from data_exchange_svc.grants import repository as grants_repository
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.models import DataResource, ResourceField, SharingGrant
from data_exchange_svc.registry import repository as registry_repository
from data_exchange_svc.registry.dataset import PersonRow, read_population
from data_exchange_svc.registry.faces import pack_template, template_from_seed
from data_exchange_svc.registry.service import new_row
from data_exchange_svc.resources import repository as resources_repository
from data_exchange_svc.resources.spec import HOSTED, POPULATION, FieldSpec, ResourceSpec
from data_exchange_svc.resources.values import today_in_china
from data_exchange_svc.settings import ExchangeSettings
from servicekit.db import run_seed, utcnow


@dataclass(frozen=True, slots=True)
class GrantSpec:
    consumer: str
    resource_code: str
    fields: tuple[str, ...]
    purposes: tuple[str, ...]


#: What identity-svc reads: real-name verification matches the name; face verification reads
#: the template and the registered region (its token's ``region`` claim). Open-ended: an
#: internal grant of the platform, revoked rather than left to expire.
IDENTITY_SVC_GRANT = GrantSpec(
    consumer="identity-svc",
    resource_code=POPULATION.code,
    fields=("name", "registered_region", "face_template", "id_card_status", "birth_date", "sex"),
    purposes=("real_name_verification", "face_verification"),
)
#: identity-svc checks that a person represents an enterprise (an enterprise account acting
#: for a company): the enterprise is active and the person is its legal representative.
IDENTITY_SVC_ENTERPRISE_GRANT = GrantSpec(
    consumer="identity-svc",
    resource_code="business_registration",
    fields=(
        "enterprise_name",
        "registration_status",
        "registered_region",
        "legal_representative_id_number",
    ),
    purposes=("enterprise_representation",),
)

#: What case-svc reads when an applicant attaches one of her electronic certificates to her
#: case (``case_svc.materials.certificates``): what each certificate is, its number (to find
#: the one she named), its issuer and its validity; never the holder's name. For the review of
#: the case it is attached to, each call naming that case.
CASE_SVC_CERTIFICATE_GRANT = GrantSpec(
    consumer="case-svc",
    resource_code="electronic_certificate",
    fields=(
        "certificate_type",
        "certificate_name",
        "certificate_number",
        "issuing_department",
        "valid_from",
        "valid_until",
        "certificate_status",
    ),
    purposes=("case_review",),
)

#: What case-svc reads to pre-fill a citizen's draft application (``case_prefill``, a purpose
#: for the citizen: each read also needs her consent to the draft, naming the department that
#: will handle it). Only the fields the catalog's forms bind with ``x-prefill`` beyond the
#: applicant's identity, which comes from her verified identity, never from a read: listed as
#: data in the grants' file, which a test holds to the forms.
CASE_PREFILL_GRANTS_FILE = Path(__file__).parent / "grants" / "case_prefill.toml"


def case_prefill_grants(path: Path = CASE_PREFILL_GRANTS_FILE) -> tuple[GrantSpec, ...]:
    """case-svc's pre-fill grants, one per resource, as the file lists them."""
    with path.open("rb") as file:
        listed = tomllib.load(file)["grants"]
    return tuple(
        GrantSpec(
            consumer="case-svc",
            resource_code=entry["resource"],
            fields=tuple(entry["fields"]),
            purposes=("case_prefill",),
        )
        for entry in listed
    )


CASE_SVC_PREFILL_GRANTS = case_prefill_grants()

_BATCH = 1000


def _field_columns(field: FieldSpec, position: int) -> dict[str, object]:
    return {
        "label": field.label,
        "sensitivity": field.sensitivity,
        "matchable": field.matchable,
        "position": position,
        "value_type": field.type,
        "choices": list(field.choices) if field.choices is not None else None,
        "nullable": field.nullable,
    }


async def _seed_resource(session: AsyncSession, spec: ResourceSpec) -> None:
    """Create the catalogue entry, or bring it in line with its spec (fields are added and
    updated, never removed: grants and consents may name them)."""
    columns: dict[str, object] = {
        "name": spec.name,
        "owner_department_type": spec.owner_department_type,
        "classification": spec.classification,
        "hosting": spec.hosting,
        "description": spec.description,
        "subject_kinds": list(spec.subject_kinds),
        "rows_per_subject": spec.rows,
    }
    resource = await resources_repository.get(session, spec.code)
    if resource is None:
        fields = [
            ResourceField(resource_code=spec.code, name=field.name, **_field_columns(field, n))
            for n, field in enumerate(spec.fields)
        ]
        await resources_repository.add(session, DataResource(code=spec.code, **columns), fields)
        return
    for name, value in columns.items():
        if getattr(resource, name) != value:
            setattr(resource, name, value)
    existing = {field.name: field for field in resource.fields}
    added = []
    for position, field in enumerate(spec.fields):
        wanted = _field_columns(field, position)
        stored = existing.get(field.name)
        if stored is None:
            added.append(ResourceField(resource_code=spec.code, name=field.name, **wanted))
            continue
        for column, wanted_value in wanted.items():
            if getattr(stored, column) != wanted_value:
                setattr(stored, column, wanted_value)
    await resources_repository.add_fields(session, added)


async def _seed_grant(session: AsyncSession, spec: GrantSpec) -> None:
    # A grant the consumer already holds, or once held and lost (revoked), is not re-created.
    if await grants_repository.exists_for(
        session, consumer=spec.consumer, resource_code=spec.resource_code
    ):
        return
    await grants_repository.add(
        session,
        SharingGrant(
            consumer=spec.consumer,
            resource_code=spec.resource_code,
            fields=list(spec.fields),
            purposes=list(spec.purposes),
            expires_at=None,
        ),
    )


def _record_row(person: PersonRow, protector: IdentifierProtector) -> dict[str, object]:
    values = {
        "name": person.name,
        "sex": person.sex,
        "birth_date": person.birth_date.isoformat(),
        "ethnicity": person.ethnicity,
        "registered_address": person.registered_address,
        "registered_region": person.registered_region,
        "id_card_status": person.id_card_status,
    }
    return new_row(
        person.id_number,
        values,
        face_template=pack_template(template_from_seed(person.face_seed)),
        protector=protector,
        now=utcnow(),
    )


async def _seed_population(
    session: AsyncSession, settings: ExchangeSettings, protector: IdentifierProtector
) -> None:
    present = await registry_repository.existing_hashes(session)
    missing = [
        person
        for person in read_population(settings.population_csv)
        if protector.lookup_hash(person.id_number) not in present
    ]
    for start in range(0, len(missing), _BATCH):
        rows = [_record_row(person, protector) for person in missing[start : start + _BATCH]]
        await registry_repository.insert_many(session, rows)


def _raw_hash(record: RawRecord, protector: IdentifierProtector) -> str:
    if record.id_number:
        return protector.lookup_hash(record.id_number)
    return protector.credit_code_hash(record.credit_code or "")


async def _seed_dataset(
    session: AsyncSession,
    spec: ResourceSpec,
    settings: ExchangeSettings,
    protector: IdentifierProtector,
) -> None:
    """The committed file's subjects that the resource does not hold yet, checked as a
    provider's load is."""
    path = dataset_file(settings.datasets_dir, spec.code)
    if path is None:
        return
    present = await datasets_repository.subjects_present(session, spec.code)
    missing = [raw for raw in read_dataset(path) if _raw_hash(raw, protector) not in present]
    subjects, errors = check_records(spec, missing, today=today_in_china())
    if errors:
        first = errors[0]
        raise ValueError(f"{path}: record {first.row}, field {first.field}: {first.message}")
    await store.store(session, spec, subjects, protector, replace=False)


async def seed(session: AsyncSession, settings: ExchangeSettings) -> None:
    settings.install_sealing()
    protector = IdentifierProtector(hash_key=settings.hash_key_bytes)
    for spec in HOSTED.values():
        await _seed_resource(session, spec)
    await _seed_grant(session, IDENTITY_SVC_GRANT)
    await _seed_grant(session, IDENTITY_SVC_ENTERPRISE_GRANT)
    await _seed_grant(session, CASE_SVC_CERTIFICATE_GRANT)
    for grant in CASE_SVC_PREFILL_GRANTS:
        await _seed_grant(session, grant)
    await _seed_population(session, settings, protector)
    for spec in HOSTED.values():
        if spec.code != POPULATION.code:
            await _seed_dataset(session, spec, settings, protector)


if __name__ == "__main__":
    run_seed(seed, ExchangeSettings())
