"""Reference and demo data of data-exchange-svc: the population resource, the grant identity-svc
needs, and the synthetic population registry. Idempotent: what exists is left as it is.

Run after ``alembic upgrade head``: ``python -m data_exchange_svc.seed``.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.grants import repository as grants_repository
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.models import DataResource, ResourceField, SharingGrant
from data_exchange_svc.registry import repository as registry_repository
from data_exchange_svc.registry.dataset import PersonRow, read_population
from data_exchange_svc.registry.faces import pack_template, template_from_seed
from data_exchange_svc.registry.resource import POPULATION, ResourceSpec
from data_exchange_svc.resources import repository as resources_repository
from data_exchange_svc.settings import ExchangeSettings
from servicekit.db import run_seed, utcnow
from servicekit.ids import new_id


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

_BATCH = 1000


async def _seed_resource(session: AsyncSession, spec: ResourceSpec) -> None:
    if await resources_repository.get(session, spec.code) is not None:
        return
    resource = DataResource(
        code=spec.code,
        name=spec.name,
        owner_department_type=spec.owner_department_type,
        classification=spec.classification,
        hosting=spec.hosting,
        description=spec.description,
    )
    fields = [
        ResourceField(
            resource_code=spec.code,
            name=field.name,
            label=field.label,
            sensitivity=field.sensitivity,
            matchable=field.matchable,
            position=position,
        )
        for position, field in enumerate(spec.fields)
    ]
    await resources_repository.add(session, resource, fields)


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
    lookup_hash = protector.lookup_hash(person.id_number)
    return {
        "id": new_id(),
        "id_number_hash": lookup_hash,
        "id_number_sealed": protector.encrypt(person.id_number, lookup_hash=lookup_hash),
        "name": person.name,
        "sex": person.sex,
        "birth_date": person.birth_date,
        "ethnicity": person.ethnicity,
        "registered_address": person.registered_address,
        "registered_region": person.registered_region,
        "id_card_status": person.id_card_status,
        "face_template": pack_template(template_from_seed(person.face_seed)),
        "updated_at": utcnow(),
    }


async def _seed_population(session: AsyncSession, settings: ExchangeSettings) -> None:
    protector = IdentifierProtector(
        encryption_key=settings.encryption_key_bytes, hash_key=settings.hash_key_bytes
    )
    present = await registry_repository.existing_hashes(session)
    missing = [
        person
        for person in read_population(settings.population_csv)
        if protector.lookup_hash(person.id_number) not in present
    ]
    for start in range(0, len(missing), _BATCH):
        rows = [_record_row(person, protector) for person in missing[start : start + _BATCH]]
        await registry_repository.insert_many(session, rows)


async def seed(session: AsyncSession, settings: ExchangeSettings) -> None:
    await _seed_resource(session, POPULATION)
    await _seed_grant(session, IDENTITY_SVC_GRANT)
    await _seed_population(session, settings)


if __name__ == "__main__":
    run_seed(seed, ExchangeSettings())
