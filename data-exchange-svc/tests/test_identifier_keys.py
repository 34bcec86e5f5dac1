"""Identity numbers, and the fields of hosted rows and held batches that carry them, are sealed
with key ids, under the exchange's keyring, and rotate with the kit's command. Those sealed
before key ids (under ``IDENTIFIER_ENCRYPTION_KEY`` alone) still read; once a new key is
current, ``python -m servicekit.sealing rewrap`` seals every one of them under it, and rewraps
those sealed since; they read as before with the new key alone; and none opens in another row.

These tests have a database of their own: the command rewraps all of it, and the suite's shared
registries must stay under the suite's key."""

import base64
import datetime as dt
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from sqlalchemy import Text, select, text, type_coerce, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from data_exchange_svc.datasets.changes import batch_binding
from data_exchange_svc.datasets.holdings import holding_of, sealing_binding
from data_exchange_svc.identifiers import IdentifierProtector, SubjectRef
from data_exchange_svc.models import DataResource, HostedRecord, PopulationRecord, RecordChange
from data_exchange_svc.registry.faces import pack_template, template_from_seed
from data_exchange_svc.registry.service import new_row
from data_exchange_svc.resources.spec import HOSTED, POPULATION
from data_exchange_svc.settings import ExchangeSettings
from servicekit.db import create_engine, utcnow
from servicekit.ids import new_id
from servicekit.migrations import upgrade_to_head
from servicekit.regions import RegionCode
from servicekit.resident_id import make_resident_id
from servicekit.sealing import UnsealableValue
from servicekit.settings import key_bytes
from servicekit.testing import POSTGRES_ENV, rewrap_as_an_operator

SERVICE_DIR = Path(__file__).resolve().parents[1]
MARRIAGES = HOSTED["marriage_registration"]
NEW_KEY_ID = "2027-01"
NEW_KEY = base64.b64encode(b"n" * 32).decode()
#: How each value was bound before key ids (``data_exchange_svc.identifiers`` then).
ID_NUMBER_CONTEXT = b"onevisit.exchange.id_number:"
FIELDS_CONTEXT = b"onevisit.exchange.sealed_fields:"


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@pytest.fixture(params=_backends())
async def own_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of the exchange's own, migrated to head."""
    if request.param == "sqlite":
        yield await _migrated(f"sqlite+aiosqlite:///{tmp_path / 'exchange.db'}")
        return
    name = f"ov_test_exchange_keys_{secrets.token_hex(4)}"
    admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(os.environ[POSTGRES_ENV]).set(database=name).render_as_string(False)
        yield await _migrated(url)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _migrated(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await upgrade_to_head(connection, SERVICE_DIR)
    finally:
        await engine.dispose()
    return url


@pytest.fixture
def settings(own_database: str, tmp_path: Path) -> Iterator[ExchangeSettings]:
    settings = ExchangeSettings(database_url=own_database, environment="test", var_dir=tmp_path)
    settings.install_sealing()
    yield settings
    ExchangeSettings(environment="test").install_sealing()  # as the rest of the suite has it


@dataclass
class Held:
    """What the database holds, half of it sealed before key ids: 林秀英 (her number as before)
    and 王建国 (as since) in the population registry; her two marriages, the first spouse's
    number as before, the second's as since; and a held batch as before, beside one decided."""

    lin: str
    wang: str
    spouses: list[str]
    change_id: uuid.UUID
    batch: dict[str, Any]


def _person(id_number: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "sex": "female" if int(id_number[16]) % 2 == 0 else "male",
        "birth_date": f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}",
        "ethnicity": "汉族",
        "registered_address": "浙江省温州市鹿城区松台街道（合成数据）",
        "registered_region": "330302026003",
        "id_card_status": "valid",
    }


@pytest.fixture
async def held(settings: ExchangeSettings) -> Held:
    protector = IdentifierProtector(hash_key=settings.hash_key_bytes)
    aead = AESGCM(key_bytes(settings.identifier_encryption_key))

    def as_before(plain: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + aead.encrypt(nonce, plain, context)

    lin = "330302195203140248"
    wang = make_resident_id(RegionCode.parse("330302"), dt.date(1988, 6, 1), 31)
    spouses = [
        make_resident_id(RegionCode.parse("330302"), dt.date(1950, 1, 2), 11),
        make_resident_id(RegionCode.parse("330303"), dt.date(1949, 5, 6), 13),
    ]
    now = utcnow()
    hers = protector.lookup_hash(lin)
    people = [
        new_row(number, _person(number, name), face_template=template, protector=protector, now=now)
        for number, name, template in (
            (lin, "林秀英", pack_template(template_from_seed(1))),
            (wang, "王建国", pack_template(template_from_seed(2))),
        )
    ]
    people[0]["id_number_sealed"] = as_before(lin.encode(), ID_NUMBER_CONTEXT + hers.encode())

    def marriage(position: int) -> dict[str, Any]:
        return {
            "id": new_id(),
            "resource_code": MARRIAGES.code,
            "subject_hash": hers,
            "position": position,
            "field_values": {"spouse_name": "张三", "registering_region": "330302"},
            "identifier_hashes": {"spouse_id_number": protector.lookup_hash(spouses[position])},
            "updated_at": now,
        }

    first = json.dumps({"spouse_id_number": spouses[0]}).encode()
    marriages = [
        marriage(0)
        | {
            "sealed_values": as_before(
                first, FIELDS_CONTEXT + f"{MARRIAGES.code}:{hers}:0".encode()
            )
        },
        marriage(1)
        | {
            "sealed_values": protector.seal_fields(
                {"spouse_id_number": spouses[1]},
                binding=sealing_binding(MARRIAGES.code, hers, 1),
            )
        },
    ]
    change_id, batch = new_id(), {"records": [{"subject": {"id_number": wang}, "rows": []}]}

    def change(change_id: uuid.UUID, records_sealed: bytes, status: str) -> dict[str, Any]:
        return {
            "id": change_id,
            "resource_code": MARRIAGES.code,
            "requested_by": "civil-affairs-system",
            "department": "330302-civil_affairs",
            "department_type": "civil_affairs",
            "department_region": "330302",
            "status": status,
            "records_sealed": records_sealed,
            "record_count": 1,
            "changes": [],
            "created_at": now,
        }

    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                DataResource.__table__.insert(),
                [
                    {
                        "code": MARRIAGES.code,
                        "name": MARRIAGES.name,
                        "owner_department_type": MARRIAGES.owner_department_type,
                        "classification": MARRIAGES.classification,
                        "hosting": "hosted",
                        "subject_kinds": ["person"],
                        "rows_per_subject": "many",
                    }
                ],
            )
            await connection.execute(PopulationRecord.__table__.insert(), people)
            await connection.execute(HostedRecord.__table__.insert(), marriages)
            await connection.execute(
                RecordChange.__table__.insert(),
                [
                    change(
                        change_id,
                        as_before(
                            json.dumps(batch).encode(),
                            FIELDS_CONTEXT + f"record_change:{change_id}".encode(),
                        ),
                        "pending",
                    ),
                    change(new_id(), b"", "approved"),
                ],
            )
    finally:
        await engine.dispose()
    return Held(lin, wang, spouses, change_id, batch)


@asynccontextmanager
async def in_a_session(settings: ExchangeSettings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(settings.database_url)
    try:
        async with async_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def assert_everything_reads(settings: ExchangeSettings, held: Held) -> None:
    """Read as a call reads them (``holding_of``), and as a steward's decision opens a batch."""
    protector = IdentifierProtector(hash_key=settings.hash_key_bytes)
    async with in_a_session(settings) as session:
        for number, name in ((held.lin, "林秀英"), (held.wang, "王建国")):
            person = await holding_of(
                session,
                POPULATION,
                SubjectRef("person", number),
                subject_hash=protector.lookup_hash(number),
                protector=protector,
            )
            assert person is not None
            fields = [POPULATION.field("id_number"), POPULATION.field("name")]
            assert person.read(fields) == {"id_number": number, "name": name}
        marriages = await holding_of(
            session,
            MARRIAGES,
            SubjectRef("person", held.lin),
            subject_hash=protector.lookup_hash(held.lin),
            protector=protector,
        )
        assert marriages is not None
        assert marriages.read([MARRIAGES.field("spouse_id_number")]) == {
            "spouse_id_number": held.spouses
        }
        change = await session.get_one(RecordChange, held.change_id)
        opened = protector.open_fields(change.records_sealed, binding=batch_binding(change.id))
        assert opened == held.batch


async def stored_values(settings: ExchangeSettings) -> list[bytes]:
    """Every identity number, sealed fields and held batch as the database holds them."""
    async with in_a_session(settings) as session:
        numbers = (await session.scalars(select(PopulationRecord.id_number_sealed))).all()
        fields = (await session.scalars(select(HostedRecord.sealed_values))).all()
        batches = (await session.scalars(select(RecordChange.records_sealed))).all()
    return [*numbers, *(value for value in fields if value is not None), *batches]


async def test_identifiers_sealed_before_key_ids_still_read(
    settings: ExchangeSettings, held: Held
) -> None:
    stored = await stored_values(settings)
    assert sorted(value[:4] == b"ov1." for value in stored if value) == [False] * 3 + [True] * 2
    await assert_everything_reads(settings, held)


async def test_rewrap_seals_every_value_under_the_new_key_and_each_still_reads(
    settings: ExchangeSettings, held: Held
) -> None:
    keyring = {key_id: key.get_secret_value() for key_id, key in settings.sealing_keys.items()}
    printed = await rewrap_as_an_operator(
        settings,
        models="data_exchange_svc.models:Base",
        sealing_keys={**keyring, NEW_KEY_ID: NEW_KEY},
        sealing_key_id=NEW_KEY_ID,
    )
    assert f"under {NEW_KEY_ID!r}" in printed
    stored = await stored_values(settings)
    assert b"" in stored  # the decided batch's: nothing to seal
    # Each value's key id, as stored: the new key's.
    assert {tuple(value.split(b".")[:2]) for value in stored if value} == {
        (b"ov1", NEW_KEY_ID.encode())
    }
    async with in_a_session(settings) as session:  # the service's other sealed columns too
        names = await session.scalars(select(type_coerce(PopulationRecord.name, Text())))
        assert {name.split(".")[1] for name in names} == {NEW_KEY_ID}

    # The new key alone opens them: neither the key "dev" nor IDENTIFIER_ENCRYPTION_KEY is needed.
    settings.model_copy(
        update={
            "sealing_keys": {NEW_KEY_ID: SecretStr(NEW_KEY)},
            "sealing_key_id": NEW_KEY_ID,
            "identifier_encryption_key": SecretStr(base64.b64encode(b"x" * 32).decode()),
        }
    ).install_sealing()
    await assert_everything_reads(settings, held)


async def test_a_value_copied_to_another_row_does_not_open(
    settings: ExchangeSettings, held: Held
) -> None:
    protector = IdentifierProtector(hash_key=settings.hash_key_bytes)
    hers, his = protector.lookup_hash(held.lin), protector.lookup_hash(held.wang)
    async with in_a_session(settings) as session:
        records = {
            record.id_number_hash: record.id_number_sealed
            for record in await session.scalars(select(PopulationRecord))
        }
    assert protector.decrypt(records[hers], lookup_hash=hers) == held.lin  # as before
    assert protector.decrypt(records[his], lookup_hash=his) == held.wang  # as since
    for sealed, other in ((records[hers], his), (records[his], hers)):
        with pytest.raises(UnsealableValue) as refused:
            protector.decrypt(sealed, lookup_hash=other)
        assert held.lin not in str(refused.value)
        assert held.wang not in str(refused.value)

    # Her marriages' sealed fields swapped between their rows: neither opens.
    async with in_a_session(settings) as session:
        rows = {
            row.position: row.sealed_values
            for row in await session.scalars(select(HostedRecord).order_by(HostedRecord.position))
        }
        for position, other in ((0, 1), (1, 0)):
            await session.execute(
                update(HostedRecord)
                .where(HostedRecord.position == position)
                .values(sealed_values=rows[other])
            )
        await session.commit()
    async with in_a_session(settings) as session:
        marriages = await holding_of(
            session,
            MARRIAGES,
            SubjectRef("person", held.lin),
            subject_hash=hers,
            protector=protector,
        )
        assert marriages is not None
        with pytest.raises(UnsealableValue):
            marriages.read([MARRIAGES.field("spouse_id_number")])
