"""A provider's bulk load: only a system of the owning department type loads, whole valid
batches only, and per subject the batch's rows replace those held (loading again changes
nothing). Jurisdiction, the steward's approval and the ledger: see test_record_changes."""

import datetime as dt
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import delete, select

from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.models import DataResource, HostedRecord, PopulationRecord, RecordChange
from data_exchange_svc.registry.dataset import PersonRow
from data_exchange_svc.registry.faces import template_from_seed
from servicekit.credit_code import make_credit_code
from servicekit.regions import RegionCode
from servicekit.resident_id import make_resident_id
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]
GrantMaker = Callable[..., Awaitable[Headers]]

PURPOSE = "service_delivery"
LoadCountsKeys = {"resource", "records", "subjects", "created", "replaced", "rows"}


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_person(app: FastAPI, population: list[PersonRow]) -> AsyncIterator[str]:
    """An identity number the registries do not hold; whatever a test loads about it is
    removed afterwards (the hosted datasets are kept between tests)."""
    taken = {person.id_number for person in population}
    while True:
        number = make_resident_id(
            RegionCode.parse("330302"), dt.date(1990, 5, 17), secrets.randbelow(499) * 2 + 1
        )
        if number not in taken:
            break
    yield number
    protector: IdentifierProtector = app.state.service.identifiers
    async with app.state.service.database.sessionmaker.begin() as session:
        lookup_hash = protector.lookup_hash(number)
        await session.execute(delete(HostedRecord).where(HostedRecord.subject_hash == lookup_hash))
        await session.execute(
            delete(PopulationRecord).where(PopulationRecord.id_number_hash == lookup_hash)
        )


#: A synthetic resident of Lucheng (330302), as public security loads her.
PERSON: dict[str, Any] = {
    "name": "林测试",
    "sex": "male",
    "birth_date": "1990-05-17",
    "ethnicity": "汉族",
    "registered_address": "浙江省温州市鹿城区松台街道庆年坊社区（合成数据）",
    "registered_region": "330302026003",
    "face_template": template_from_seed(42),
    "id_card_status": "valid",
}


@pytest_asyncio.fixture(loop_scope="session")
async def resident(
    client: httpx.AsyncClient, owner: Callable[[str], Headers], fresh_person: str
) -> str:
    """A fresh person, registered in Lucheng: her domicile places the records of resources
    without a region of their own (vehicles, utilities) in Wenzhou's jurisdiction."""
    record = {"subject": {"id_number": fresh_person}, "fields": PERSON}
    loaded = await load(client, "population", owner("public_security"), [record])
    assert loaded.status_code == 200, loaded.text
    return fresh_person


@pytest.fixture
def owner(token_minter: TokenMinter) -> Callable[[str], Headers]:
    """A department system of a Wenzhou (city) department of the given type."""

    def token(department_type: str) -> Headers:
        return bearer(
            token_minter.mint(
                f"system-{secrets.token_hex(4)}",
                typ="department_system",
                loa=0,
                dept=f"330300-{department_type}",
            )
        )

    return token


def vehicle(number: str, plate: str, registered_on: str, **changes: Any) -> dict[str, Any]:
    fields = {
        "plate_number": plate,
        "vehicle_type": "small_car",
        "brand": "吉利",
        "registered_on": registered_on,
        "vehicle_status": "normal",
        **changes,
    }
    return {"subject": {"id_number": number}, "fields": fields}


async def load(
    client: httpx.AsyncClient, code: str, headers: Headers, records: list[dict[str, Any]]
) -> httpx.Response:
    return await client.post(
        f"/exchange/v1/resources/{code}/records", json={"records": records}, headers=headers
    )


async def read(
    client: httpx.AsyncClient,
    headers: Headers,
    code: str,
    subject: dict[str, str],
    fields: list[str],
) -> httpx.Response:
    return await client.post(
        "/exchange/v1/calls",
        json={"resource": code, "subject": subject, "fields": fields, "purpose": PURPOSE},
        headers=headers,
    )


async def test_the_owner_loads_a_persons_vehicles_and_loading_again_changes_nothing(
    client: httpx.AsyncClient,
    owner: Callable[[str], Headers],
    service_with_grant: GrantMaker,
    resident: str,
) -> None:
    traffic_police = owner("traffic_police")
    batch = [
        vehicle(resident, "浙C9T001", "2024-03-01"),
        vehicle(resident, "浙CD12345", "2019-07-15", vehicle_type="new_energy_small_car"),
    ]
    first = await load(client, "motor_vehicle", traffic_police, batch)
    assert first.status_code == 200, first.text
    summary = {key: value for key, value in first.json().items() if key in LoadCountsKeys}
    assert summary == {
        "resource": "motor_vehicle",
        "records": 2,
        "subjects": 1,
        "created": 1,
        "replaced": 0,
        "rows": 2,
    }
    reader = await service_with_grant(
        resource="motor_vehicle", fields=["plate_number", "vehicle_type"], purposes=[PURPOSE]
    )
    subject = {"id_number": resident}
    expected = {
        "plate_number": ["浙CD12345", "浙C9T001"],
        "vehicle_type": ["new_energy_small_car", "small_car"],
    }
    answer = await read(client, reader, "motor_vehicle", subject, ["plate_number", "vehicle_type"])
    assert answer.json()["fields"] == expected
    again = await load(client, "motor_vehicle", traffic_police, batch)
    assert (again.json()["created"], again.json()["replaced"], again.json()["rows"]) == (0, 1, 2)
    answer = await read(client, reader, "motor_vehicle", subject, ["plate_number", "vehicle_type"])
    assert answer.json()["fields"] == expected
    sold = await load(client, "motor_vehicle", traffic_police, batch[:1])
    assert sold.json()["rows"] == 1
    answer = await read(client, reader, "motor_vehicle", subject, ["plate_number"])
    assert answer.json()["fields"] == {"plate_number": ["浙C9T001"]}


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"typ": "department_system", "dept": "330300-civil_affairs"}, "not_the_owner"),
        ({"typ": "service"}, "not_the_owner"),
        ({"typ": "staff", "dept": "330300-traffic_police"}, "wrong_principal_type"),
        ({"typ": "citizen", "region": "330302026003"}, "wrong_principal_type"),
    ],
    ids=["other-department", "service-of-no-department", "staff-of-the-owner", "citizen"],
)
async def test_only_a_system_of_the_owning_department_type_loads(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    service_with_grant: GrantMaker,
    problem: Problem,
    fresh_person: str,
    claims: dict[str, Any],
    code: str,
) -> None:
    headers = bearer(token_minter.mint("someone", loa=2, **claims))
    response = await load(
        client, "motor_vehicle", headers, [vehicle(fresh_person, "浙C9T002", "2024-03-01")]
    )
    problem(response, 403, code)
    reader = await service_with_grant(
        resource="motor_vehicle", fields=["plate_number"], purposes=[PURPOSE]
    )
    answer = await read(
        client, reader, "motor_vehicle", {"id_number": fresh_person}, ["plate_number"]
    )
    problem(answer, 404, "subject_not_found")


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"fields": {"vehicle_type": "spaceship"}}, "vehicle_type"),
        ({"fields": {"registered_on": "2020-02-30"}}, "registered_on"),
        ({"fields": {"registered_on": "30/01/2020"}}, "registered_on"),
        ({"fields": {"brand": None}}, "brand"),
        ({"fields": {"brand": 7}}, "brand"),
        ({"fields": {"colour": "red"}}, "colour"),
        ({"subject": {"credit_code": "91330302MA1P3D8712"}}, "subject"),
        ({"subject": {"id_number": "330302195203140249"}}, "subject"),
        ({"subject": {}}, "subject"),
    ],
    ids=[
        "not-a-choice",
        "impossible-date",
        "not-iso-date",
        "missing",
        "not-text",
        "unknown-field",
        "enterprise-subject",
        "bad-check-character",
        "no-subject",
    ],
)
async def test_a_bad_record_refuses_the_whole_batch_naming_its_index_and_field(
    client: httpx.AsyncClient,
    owner: Callable[[str], Headers],
    service_with_grant: GrantMaker,
    problem: Problem,
    fresh_person: str,
    bad: dict[str, Any],
    field: str,
) -> None:
    good = vehicle(fresh_person, "浙C9T003", "2024-03-01")
    wrong = vehicle(fresh_person, "浙C9T004", "2024-04-01")
    wrong["fields"].update(bad.get("fields", {}))
    wrong["subject"] = bad.get("subject", wrong["subject"])
    response = await load(client, "motor_vehicle", owner("traffic_police"), [good, wrong])
    refusal = problem(response, 422, "invalid_record")
    assert [(error["row"], error["field"]) for error in refusal["errors"]] == [(1, field)]
    assert fresh_person not in response.text
    reader = await service_with_grant(
        resource="motor_vehicle", fields=["plate_number"], purposes=[PURPOSE]
    )
    answer = await read(
        client, reader, "motor_vehicle", {"id_number": fresh_person}, ["plate_number"]
    )
    problem(answer, 404, "subject_not_found")


async def test_a_one_row_resource_takes_one_record_per_subject_and_no_derived_fields(
    client: httpx.AsyncClient, owner: Callable[[str], Headers], problem: Problem, fresh_person: str
) -> None:
    account = {
        "account_number": "330300000001",
        "account_status": "normal",
        "monthly_deposit": "1200",
        "balance": 35000.5,
        "opened_on": "2015-03-01",
        "management_centre": "温州市住房公积金管理中心",
        "centre_region": "330300",
    }
    record = {"subject": {"id_number": fresh_person}, "fields": account}
    twice = await load(
        client, "housing_provident_fund", owner("housing_provident_fund"), [record, record]
    )
    assert [(e["row"], e["field"]) for e in problem(twice, 422, "invalid_record")["errors"]] == [
        (1, "subject")
    ]
    once = await load(client, "housing_provident_fund", owner("housing_provident_fund"), [record])
    assert once.status_code == 200, once.text


async def test_an_enterprise_is_loaded_with_its_representatives_number_sealed(
    client: httpx.AsyncClient,
    app: FastAPI,
    owner: Callable[[str], Headers],
    service_with_grant: GrantMaker,
    problem: Problem,
) -> None:
    code = make_credit_code(
        registration_authority="9",
        category="1",
        region=RegionCode.parse("330302"),
        organisation_code="MA" + "".join(secrets.choice("0123456789") for _ in range(7)),
    )
    representative = "330302199807160512"
    fields = {
        "enterprise_name": "温州市鹿城区测试贸易有限公司（合成数据）",
        "enterprise_type": "limited_liability_company",
        "registered_region": "330302",
        "registered_address": "浙江省温州市鹿城区学院路1号（合成数据）",
        "established_on": "2024-01-02",
        "registration_status": "active",
        "deregistered_on": None,
        "legal_representative_name": "林浩宇",
        "legal_representative_id_number": representative,
    }
    market = owner("market_regulation")
    with_code = {"subject": {"credit_code": code}, "fields": {**fields, "credit_code": code}}
    refusal = problem(
        await load(client, "business_registration", market, [with_code]), 422, "invalid_record"
    )
    assert refusal["errors"] == [
        {"row": 0, "field": "credit_code", "message": "derived, not loaded"}
    ]
    protector: IdentifierProtector = app.state.service.identifiers
    try:
        loaded = await load(
            client,
            "business_registration",
            market,
            [{"subject": {"credit_code": code}, "fields": fields}],
        )
        assert loaded.status_code == 200, loaded.text
        async with app.state.service.database.sessionmaker() as session:
            (row,) = (
                await session.scalars(
                    select(HostedRecord).where(
                        HostedRecord.subject_hash == protector.credit_code_hash(code)
                    )
                )
            ).all()
        assert "legal_representative_id_number" not in row.field_values
        assert row.sealed_values is not None
        assert representative.encode() not in row.sealed_values
        assert row.identifier_hashes == {
            "legal_representative_id_number": protector.lookup_hash(representative)
        }
        reader = await service_with_grant(
            resource="business_registration",
            fields=["credit_code", "legal_representative_id_number"],
            purposes=[PURPOSE],
        )
        answer = await read(
            client,
            reader,
            "business_registration",
            {"credit_code": code},
            ["credit_code", "legal_representative_id_number"],
        )
        assert answer.json()["fields"] == {
            "credit_code": code,
            "legal_representative_id_number": representative,
        }
    finally:
        async with app.state.service.database.sessionmaker.begin() as session:
            await session.execute(
                delete(HostedRecord).where(
                    HostedRecord.subject_hash == protector.credit_code_hash(code)
                )
            )


async def test_public_security_loads_a_person_into_the_population_registry(
    client: httpx.AsyncClient,
    owner: Callable[[str], Headers],
    identity_svc: Headers,
    problem: Problem,
    fresh_person: str,
) -> None:
    public_security = owner("public_security")
    subject = {"id_number": fresh_person}
    mismatched = {"subject": subject, "fields": {**PERSON, "birth_date": "1990-05-18"}}
    refusal = problem(
        await load(client, "population", public_security, [mismatched]), 422, "invalid_record"
    )
    assert [error["field"] for error in refusal["errors"]] == ["birth_date"]
    loaded = await load(
        client, "population", public_security, [{"subject": subject, "fields": PERSON}]
    )
    assert loaded.json()["created"] == 1, loaded.text
    match = await client.post(
        "/exchange/v1/matches",
        json={
            "resource": "population",
            "subject": subject,
            "claims": {"name": "林测试", "birth_date": "1990-05-17"},
            "purpose": "real_name_verification",
        },
        headers=identity_svc,
    )
    assert match.json()["match"] is True
    moved = await load(
        client,
        "population",
        public_security,
        [
            {
                "subject": subject,
                "fields": {**PERSON, "registered_address": "鹿城区新址（合成数据）"},
            }
        ],
    )
    assert (moved.json()["created"], moved.json()["replaced"]) == (0, 1), moved.text


async def test_an_unknown_or_remote_resource_cannot_be_loaded(
    client: httpx.AsyncClient, app: FastAPI, owner: Callable[[str], Headers], problem: Problem
) -> None:
    records = [{"subject": {"id_number": "330302195203140248"}, "fields": {}}]
    problem(await load(client, "tax_records", owner("tax"), records), 404, "resource_not_found")
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(
            DataResource(
                code="tax_records",
                name="纳税记录",
                owner_department_type="tax",
                classification="conditional",
                hosting="remote",
            )
        )
    # A catalogue write through this process: its snapshot is read again at the next use.
    app.state.service.access_checks.catalogue.invalidate()
    try:
        problem(
            await load(client, "tax_records", owner("tax"), records), 501, "resource_not_served"
        )
    finally:
        async with app.state.service.database.sessionmaker.begin() as session:
            await session.execute(delete(DataResource).where(DataResource.code == "tax_records"))


@pytest.mark.parametrize(
    "body",
    [{"records": []}, {"records": [{"subject": {"id_number": "x"}}]}, {"rows": []}],
    ids=["empty", "no-fields", "unknown-member"],
)
async def test_a_malformed_batch_is_a_validation_problem(
    client: httpx.AsyncClient,
    owner: Callable[[str], Headers],
    problem: Problem,
    body: dict[str, Any],
) -> None:
    response = await client.post(
        "/exchange/v1/resources/motor_vehicle/records", json=body, headers=owner("traffic_police")
    )
    problem(response, 422, "validation_failed")


# Jurisdiction: a department loads the records of its own region and below.


def system_of(token_minter: TokenMinter, department: str) -> Headers:
    return bearer(
        token_minter.mint(
            f"system-{secrets.token_hex(4)}", typ="department_system", loa=0, dept=department
        )
    )


def staff_of(token_minter: TokenMinter, department: str, *roles: str) -> Headers:
    return bearer(
        token_minter.mint(
            f"staff-{secrets.token_hex(4)}", typ="staff", loa=2, dept=department, roles=list(roles)
        )
    )


async def test_a_county_system_loads_the_records_of_its_own_county_only(
    client: httpx.AsyncClient,
    app: FastAPI,
    token_minter: TokenMinter,
    population: list[PersonRow],
    problem: Problem,
    fresh_person: str,
) -> None:
    lucheng = system_of(token_minter, "330302-public_security")
    longwan = system_of(token_minter, "330303-public_security")
    hangzhou_resident = next(p for p in population if p.registered_region.startswith("3301"))
    held_before = await _population_row(app, hangzhou_resident.id_number)
    # A Hangzhou resident's record, "moved" to Lucheng by Lucheng's system: her record as held
    # lies outside Lucheng, so nothing changes.
    takeover = {
        "subject": {"id_number": hangzhou_resident.id_number},
        "fields": {
            **PERSON,
            "name": hangzhou_resident.name,
            "sex": hangzhou_resident.sex,
            "birth_date": hangzhou_resident.birth_date.isoformat(),
            "face_template": template_from_seed(7),
        },
    }
    refusal = problem(
        await load(client, "population", lucheng, [takeover]), 403, "outside_jurisdiction"
    )
    assert (refusal["department"], refusal["rows"]) == ("330302-public_security", [0])
    assert hangzhou_resident.id_number not in json.dumps(refusal)
    assert await _population_row(app, hangzhou_resident.id_number) == held_before
    # A new resident stated in Hangzhou is not Lucheng's to register; nor one of Lucheng
    # Longwan's, the county beside it.
    in_hangzhou = {
        "subject": {"id_number": fresh_person},
        "fields": {**PERSON, "registered_region": "330106001001"},
    }
    problem(await load(client, "population", lucheng, [in_hangzhou]), 403, "outside_jurisdiction")
    in_lucheng = {"subject": {"id_number": fresh_person}, "fields": PERSON}
    problem(await load(client, "population", longwan, [in_lucheng]), 403, "outside_jurisdiction")
    assert (await load(client, "population", lucheng, [in_lucheng])).status_code == 200
    # The province's bureau registers anywhere in the province.
    province = system_of(token_minter, "330000-public_security")
    moved = await load(client, "population", province, [in_hangzhou])
    assert moved.status_code == 200, moved.text
    # Vehicles are placed by their owner's domicile: Wenzhou's traffic police cannot touch a
    # Hangzhou resident's.
    wenzhou_traffic = system_of(token_minter, "330300-traffic_police")
    problem(
        await load(
            client,
            "motor_vehicle",
            wenzhou_traffic,
            [vehicle(hangzhou_resident.id_number, "浙C9T010", "2024-03-01")],
        ),
        403,
        "outside_jurisdiction",
    )


async def test_a_market_regulator_cannot_rewrite_another_citys_enterprise(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    dataset_rows: Callable[[str], list[dict[str, Any]]],
    problem: Problem,
) -> None:
    wenzhou_enterprise = next(
        row
        for row in dataset_rows("business_registration")
        if row["registered_region"].startswith("3303")
    )
    fields = {
        key: value or None for key, value in wenzhou_enterprise.items() if key != "credit_code"
    }
    record = {
        "subject": {"credit_code": wenzhou_enterprise["credit_code"]},
        "fields": {**fields, "registered_region": "330681", "legal_representative_name": "冒名"},
    }
    zhuji = system_of(token_minter, "330681-market_regulation")
    problem(
        await load(client, "business_registration", zhuji, [record]), 403, "outside_jurisdiction"
    )


# A second person: identity-critical changes wait for a data steward.


async def _population_row(app: FastAPI, id_number: str) -> tuple[str, bytes, str]:
    protector: IdentifierProtector = app.state.service.identifiers
    async with app.state.service.database.sessionmaker() as session:
        row = (
            await session.scalars(
                select(PopulationRecord).where(
                    PopulationRecord.id_number_hash == protector.lookup_hash(id_number)
                )
            )
        ).one()
        return row.name, row.face_template, row.registered_region


async def test_a_new_face_template_waits_for_a_data_steward_over_the_provider(
    client: httpx.AsyncClient,
    app: FastAPI,
    token_minter: TokenMinter,
    owner: Callable[[str], Headers],
    problem: Problem,
    resident: str,
) -> None:
    before = await _population_row(app, resident)
    system = owner("public_security")
    new_face = {
        "subject": {"id_number": resident},
        "fields": {**PERSON, "face_template": template_from_seed(7)},
    }
    held = await load(client, "population", system, [new_face])
    assert held.status_code == 202, held.text
    change = held.json()
    assert held.headers["location"] == f"/exchange/v1/record-changes/{change['id']}"
    assert (change["status"], change["changes"]) == (
        "pending",
        [{"row": 0, "fields": ["face_template"]}],
    )
    assert resident not in held.text
    assert await _population_row(app, resident) == before
    path = f"/exchange/v1/record-changes/{change['id']}"
    assert (await client.get(path, headers=system)).json()["status"] == "pending"
    hangzhou_steward = staff_of(token_minter, "330100-public_security", "data_steward")
    problem(await client.get(path, headers=hangzhou_steward), 404, "record_change_not_found")
    # Neither the system that sent it, nor a handler of its department, nor a steward of the
    # county beside it decides.
    problem(await client.post(f"{path}/approve", headers=system), 403, "wrong_principal_type")
    handler = staff_of(token_minter, "330300-public_security", "handler", "department_admin")
    problem(await client.post(f"{path}/approve", headers=handler), 403, "data_steward_required")
    longwan_steward = staff_of(token_minter, "330303-public_security", "data_steward")
    problem(
        await client.post(f"{path}/approve", headers=longwan_steward),
        404,
        "record_change_not_found",
    )

    steward = staff_of(token_minter, "330300-public_security", "data_steward")
    queue = await client.get(
        "/exchange/v1/record-changes", params={"status": "pending"}, headers=steward
    )
    assert change["id"] in [item["id"] for item in queue.json()["items"]]
    approved = await client.post(f"{path}/approve", headers=steward)
    assert approved.status_code == 200, approved.text
    decided = approved.json()
    assert decided["status"] == "approved"
    assert (decided["load"]["replaced"], len(decided["load"]["ledger_entries"])) == (1, 1)
    name, face, region = await _population_row(app, resident)
    assert (name, region) == (before[0], before[2])
    assert face != before[1]
    problem(await client.post(f"{path}/approve", headers=steward), 409, "record_change_not_pending")


async def test_a_refused_change_leaves_the_record_and_drops_the_batch(
    client: httpx.AsyncClient,
    app: FastAPI,
    token_minter: TokenMinter,
    owner: Callable[[str], Headers],
    resident: str,
) -> None:
    before = await _population_row(app, resident)
    renamed = {"subject": {"id_number": resident}, "fields": {**PERSON, "name": "林冒名"}}
    held = await load(client, "population", owner("public_security"), [renamed])
    assert held.json()["changes"] == [{"row": 0, "fields": ["name"]}], held.text
    # A county's steward does not stand over the city's bureau; the province's does.
    county_steward = staff_of(token_minter, "330302-public_security", "data_steward")
    path = f"/exchange/v1/record-changes/{held.json()['id']}"
    assert (
        await client.post(f"{path}/refuse", json={"reason": "x"}, headers=county_steward)
    ).status_code == 404
    steward = staff_of(token_minter, "330000-public_security", "data_steward")
    refused = await client.post(
        f"/exchange/v1/record-changes/{held.json()['id']}/refuse",
        json={"reason": "未见更名材料"},
        headers=steward,
    )
    assert (refused.status_code, refused.json()["status"]) == (200, "refused"), refused.text
    assert await _population_row(app, resident) == before
    async with app.state.service.database.sessionmaker() as session:
        stored = await session.get(RecordChange, uuid.UUID(held.json()["id"]))
        assert stored is not None
        assert stored.records_sealed == b""


async def test_every_write_is_a_ledger_entry_in_the_subjects_access_log(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    owner: Callable[[str], Headers],
    identity_svc: Headers,
    fresh_person: str,
) -> None:
    loaded = await load(
        client,
        "population",
        owner("public_security"),
        [{"subject": {"id_number": fresh_person}, "fields": PERSON}],
    )
    (seq,) = loaded.json()["ledger_entries"]
    assert loaded.json()["tree_head"]["tree_size"] >= seq
    proof = await client.get(f"/exchange/v1/ledger/entries/{seq}/proof")
    assert proof.status_code == 200, proof.text
    account = f"account-{secrets.token_hex(4)}"
    linked = await client.put(
        f"/exchange/v1/citizen-links/{account}",
        json={"id_number": fresh_person},
        headers=identity_svc,
    )
    assert linked.status_code == 200, linked.text
    citizen = bearer(token_minter.mint(account, typ="citizen", loa=2, region="330302026003"))
    log = await client.get("/exchange/v1/me/access-log", headers=citizen)
    (item,) = log.json()["items"]
    assert (item["seq"], item["kind"], item["consumer"], item["purpose"], item["outcome"]) == (
        seq,
        "load",
        "330300-public_security",
        "record_maintenance",
        "allowed",
    )
    assert item["receipt"]["entry"]["kind"] == "load"
