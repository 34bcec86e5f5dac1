"""The hosted population registry: the committed synthetic data, how it is stored, the seed."""

import datetime as dt
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.models import DataResource, HostedRecord, PopulationRecord, SharingGrant
from data_exchange_svc.registry import repository
from data_exchange_svc.registry.dataset import PersonRow
from data_exchange_svc.registry.faces import (
    cosine_similarity,
    template_from_seed,
    unpack_template,
)
from data_exchange_svc.seed import seed
from data_exchange_svc.settings import ExchangeSettings
from servicekit.resident_id import parse_resident_id
from servicekit.sealing import UnsealableValue

SERVICE_DIR = Path(__file__).resolve().parents[1]
#: CI clones have the shared reference data beside the repository; elsewhere the test skips.
REGIONS_DIR = Path(__file__).resolve().parents[2].parent / "shared/data/regions"
#: The 3,000th person, as first drawn: the base population must never change.
BASE_LAST_ID_NUMBER = "330881195503191189"


def test_the_first_person_is_the_demo_citizen_exactly(demo_citizen: PersonRow) -> None:
    assert demo_citizen == PersonRow(
        id_number="330302195203140248",
        name="林秀英",
        sex="female",
        birth_date=dt.date(1952, 3, 14),
        ethnicity="汉族",
        registered_region="330302026003",
        registered_address="浙江省温州市鹿城区松台街道庆年坊社区（合成数据）",
        id_card_status="valid",
        face_seed=demo_citizen.face_seed,
    )


def test_the_population_is_valid_distinct_clearly_synthetic_people(
    population: list[PersonRow],
) -> None:
    assert len({person.id_number for person in population}) == len(population)
    for person in population:
        parsed = parse_resident_id(
            person.id_number, today=dt.date(2026, 11, 1), region_known=lambda _: True
        )
        assert parsed.birth_date == person.birth_date
        assert parsed.sex == person.sex
        assert person.registered_region.startswith(parsed.issuing_region.prefix)
        assert len(person.registered_region) == 12
        assert person.registered_address.startswith("浙江省")
        assert person.registered_address.endswith("（合成数据）")
        assert person.id_card_status == "valid"
    cities = {person.registered_region[:4] for person in population}
    assert cities == {f"33{n:02d}" for n in range(1, 12)}
    ethnicities = Counter(person.ethnicity for person in population)
    assert ethnicities.most_common(1)[0][0] == "汉族"
    assert ethnicities["汉族"] > 0.95 * len(population)
    assert len({person.face_seed for person in population}) > 0.99 * len(population)


def test_the_base_3000_were_born_1930_to_2008_and_their_relatives_were_appended_after_them(
    population: list[PersonRow],
) -> None:
    """Other services' tests use the first 3,000 rows: relatives are only ever appended."""
    assert len(population) > 3000
    assert all(
        dt.date(1930, 1, 1) <= person.birth_date <= dt.date(2008, 12, 31)
        for person in population[:3000]
    )
    assert population[2999].id_number == BASE_LAST_ID_NUMBER


def test_the_demo_capture_resembles_her_stored_template_and_nobody_elses(
    population: list[PersonRow], demo_capture: dict[str, Any]
) -> None:
    assert demo_capture["id_number"] == population[0].id_number
    captured = demo_capture["template"]
    assert len(captured) == 128
    assert abs(sum(x * x for x in captured) - 1.0) < 1e-9
    assert 0.95 <= cosine_similarity(template_from_seed(population[0].face_seed), captured) <= 0.98
    for other in population[1:50]:
        assert cosine_similarity(template_from_seed(other.face_seed), captured) < 0.5


def test_a_face_template_is_a_deterministic_unit_vector() -> None:
    template = template_from_seed(12345)
    assert template == template_from_seed(12345)
    assert template != template_from_seed(12346)
    assert len(template) == 128
    assert abs(sum(x * x for x in template) - 1.0) < 1e-12


@pytest.mark.skipif(
    not REGIONS_DIR.is_dir(), reason="the shared region data is not beside the repo"
)
def test_the_committed_files_are_exactly_what_the_generator_writes(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            str(SERVICE_DIR / "scripts" / "generate_population.py"),
            str(REGIONS_DIR / "zj_villages_nbs2023.csv"),
            "--out-dir",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    written = sorted(path.name for path in tmp_path.iterdir())
    committed = sorted(
        path.name for path in (SERVICE_DIR / "data").iterdir() if path.name != "README.md"
    )
    assert written == committed
    for name in written:
        assert (tmp_path / name).read_bytes() == (SERVICE_DIR / "data" / name).read_bytes(), name


async def test_the_demo_citizen_is_stored_with_her_number_encrypted_and_her_template(
    app: FastAPI, demo_citizen: PersonRow
) -> None:
    protector: IdentifierProtector = app.state.service.identifiers
    lookup_hash = protector.lookup_hash(demo_citizen.id_number)
    async with app.state.service.database.sessionmaker() as session:
        record = await repository.get_by_hash(session, lookup_hash)
    assert record is not None
    assert (record.name, record.sex, record.birth_date, record.registered_region) == (
        "林秀英",
        "female",
        dt.date(1952, 3, 14),
        "330302026003",
    )
    assert demo_citizen.id_number.encode() not in record.id_number_sealed
    assert (
        protector.decrypt(record.id_number_sealed, lookup_hash=lookup_hash) == "330302195203140248"
    )
    assert unpack_template(record.face_template) == template_from_seed(demo_citizen.face_seed)


async def test_a_sealed_number_moved_to_another_row_fails_authentication(
    app: FastAPI, population: list[PersonRow]
) -> None:
    protector: IdentifierProtector = app.state.service.identifiers
    hers = protector.lookup_hash(population[0].id_number)
    theirs = protector.lookup_hash(population[1].id_number)
    async with app.state.service.database.sessionmaker() as session:
        record = await repository.get_by_hash(session, hers)
    assert record is not None
    with pytest.raises(UnsealableValue):
        protector.decrypt(record.id_number_sealed, lookup_hash=theirs)


def test_the_lookup_hash_is_keyed() -> None:
    settings = ExchangeSettings()
    mine = IdentifierProtector(hash_key=settings.hash_key_bytes)
    other = IdentifierProtector(hash_key=b"k" * 32)
    number = "330302195203140248"
    assert mine.lookup_hash(number) == mine.lookup_hash(f" {number.lower()} ")
    assert mine.lookup_hash(number) != other.lookup_hash(number)


async def test_seeding_again_changes_nothing(app: FastAPI, population: list[PersonRow]) -> None:
    async def counts() -> tuple[int | None, ...]:
        async with app.state.service.database.sessionmaker() as session:
            return tuple(
                [
                    await session.scalar(select(func.count()).select_from(table))
                    for table in (PopulationRecord, DataResource, SharingGrant, HostedRecord)
                ]
            )

    before = await counts()
    async with app.state.service.database.sessionmaker.begin() as session:
        await seed(session, app.state.service.settings)
    assert await counts() == before
    assert before[0] == len(population)
    assert before[3] > 30_000
