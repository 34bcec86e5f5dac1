"""An issuer publishes one certificate to the certificate library: a department system of an
issuing type for its department, or a listed platform service naming an issuing department. A
row is added, none replaced; the same publication again answers the same; the holder's name
comes from the exchange's registers; every publication is a ledger entry."""

import datetime as dt
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import delete

from data_exchange_svc.certificates.issuers import InvalidIssuers, parse_issuers
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.models import HostedRecord, IssuedCertificate, PopulationRecord
from data_exchange_svc.registry.dataset import PersonRow
from data_exchange_svc.registry.faces import template_from_seed
from data_exchange_svc.resources.spec import HOSTED
from servicekit.regions import RegionCode
from servicekit.resident_id import make_resident_id
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]

CERTIFICATE_FIELDS = [
    "certificate_type",
    "certificate_name",
    "certificate_number",
    "holder_name",
    "issuing_department",
    "valid_from",
    "valid_until",
]
HOLDER_NAME = "周测试"


@pytest_asyncio.fixture(loop_scope="session")
async def holder(
    app: FastAPI, client: httpx.AsyncClient, population: list[PersonRow], token_minter: TokenMinter
) -> AsyncIterator[str]:
    """A person the population registry holds (loaded by Wenzhou's public security) and the
    certificate library not yet; what tests publish about her is removed afterwards."""
    taken = {person.id_number for person in population}
    while True:
        number = make_resident_id(
            RegionCode.parse("330302"), dt.date(1955, 2, 11), secrets.randbelow(499) * 2
        )
        if number not in taken:
            break
    police = bearer(
        token_minter.mint(
            "system-police", typ="department_system", loa=0, dept="330300-public_security"
        )
    )
    person = {
        "name": HOLDER_NAME,
        "sex": "female",
        "birth_date": "1955-02-11",
        "ethnicity": "汉族",
        "registered_address": "浙江省温州市鹿城区松台街道庆年坊社区（合成数据）",
        "registered_region": "330302026003",
        "face_template": template_from_seed(7),
        "id_card_status": "valid",
    }
    loaded = await client.post(
        "/exchange/v1/resources/population/records",
        json={"records": [{"subject": {"id_number": number}, "fields": person}]},
        headers=police,
    )
    assert loaded.status_code == 200, loaded.text
    yield number
    protector: IdentifierProtector = app.state.service.identifiers
    lookup_hash = protector.lookup_hash(number)
    async with app.state.service.database.sessionmaker.begin() as session:
        for table, column in (
            (HostedRecord, HostedRecord.subject_hash),
            (IssuedCertificate, IssuedCertificate.subject_hash),
            (PopulationRecord, PopulationRecord.id_number_hash),
        ):
            await session.execute(delete(table).where(column == lookup_hash))


@pytest.fixture
def department_system(token_minter: TokenMinter) -> Callable[[str], Headers]:
    def token(department: str) -> Headers:
        system = f"system-{secrets.token_hex(4)}"
        return bearer(token_minter.mint(system, typ="department_system", loa=0, dept=department))

    return token


@pytest.fixture
def case_svc_token(token_minter: TokenMinter) -> Headers:
    return bearer(token_minter.mint("case-svc", typ="service", loa=0))


def certificate(subject: dict[str, str], /, **changes: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "certificate_type": "senior_citizen_card",
        "certificate_number": f"3303{secrets.randbelow(10**10):010d}",
        "valid_from": "2026-12-08",
        "valid_until": None,
        "case_id": "330302-20261208-000042",
        **changes,
    }


async def publish(
    client: httpx.AsyncClient, headers: Headers, body: dict[str, Any]
) -> httpx.Response:
    return await client.post("/exchange/v1/certificates", json=body, headers=headers)


async def certificates_of(
    client: httpx.AsyncClient, reader: Headers, subject: dict[str, str]
) -> list[dict[str, Any]]:
    """The holder's certificates as a granted reader sees them, one dict per row."""
    answer = await client.post(
        "/exchange/v1/calls",
        json={
            "resource": "electronic_certificate",
            "subject": subject,
            "fields": CERTIFICATE_FIELDS,
            "purpose": "service_delivery",
        },
        headers=reader,
    )
    assert answer.status_code == 200, answer.text
    values = answer.json()["fields"]
    return [
        {name: values[name][row] for name in CERTIFICATE_FIELDS}
        for row in range(len(values["certificate_type"]))
    ]


@pytest.fixture
async def reader(service_with_grant: Callable[..., Any]) -> Headers:
    headers: Headers = await service_with_grant(
        resource="electronic_certificate", fields=CERTIFICATE_FIELDS, purposes=["service_delivery"]
    )
    return headers


async def test_a_civil_affairs_system_adds_a_senior_card_beside_the_holders_certificates(
    client: httpx.AsyncClient,
    department_system: Callable[[str], Headers],
    reader: Headers,
    holder: str,
) -> None:
    subject = {"id_number": holder}
    teacher = certificate(subject, certificate_type="teacher_qualification")
    education = department_system("330300-education")
    first = await publish(client, education, teacher)
    assert first.status_code == 201, first.text

    card = certificate(subject)
    civil_affairs = department_system("330302-civil_affairs")
    published = await publish(client, civil_affairs, card)

    assert published.status_code == 201, published.text
    body = published.json()
    assert body["certificate_name"] == "老年人优待证"
    assert body["issuing_department"] == "330302-civil_affairs"
    assert body["holder_named"] is True
    entry = body["receipt"]["entry"]
    assert entry["kind"] == "load"
    assert entry["consumer"] == "330302-civil_affairs"
    assert entry["purpose"] == "certificate_issuance"
    assert entry["case_id"] == card["case_id"]
    assert entry["call_id"] == body["call_id"]
    assert body["receipt"]["tree_head"]["tree_size"] >= body["receipt"]["seq"]
    held = await certificates_of(client, reader, subject)
    assert [(row["certificate_type"], row["certificate_number"]) for row in held] == [
        ("teacher_qualification", teacher["certificate_number"]),
        ("senior_citizen_card", card["certificate_number"]),
    ]
    assert held[1]["holder_name"] == HOLDER_NAME
    assert held[0]["issuing_department"] == "330300-education"


async def test_publishing_the_same_certificate_again_changes_nothing_and_answers_the_same(
    client: httpx.AsyncClient,
    department_system: Callable[[str], Headers],
    case_svc_token: Headers,
    reader: Headers,
    holder: str,
) -> None:
    card = certificate({"id_number": holder}, issuing_department="330302-civil_affairs")
    first = await publish(client, case_svc_token, card)
    assert first.status_code == 201, first.text
    again = await publish(client, case_svc_token, card)

    assert again.status_code == 200, again.text
    before, after = first.json(), again.json()
    for answer in (before, after):
        del answer["receipt"]["tree_head"]
    assert after == before
    assert before["receipt"]["entry"]["actor"] == "case-svc"
    assert before["receipt"]["entry"]["consumer"] == "330302-civil_affairs"
    assert len(await certificates_of(client, reader, {"id_number": holder})) == 1
    # Its issuer's own system publishing it answers the same too.
    by_issuer = await publish(client, department_system("330302-civil_affairs"), card)
    assert by_issuer.status_code == 200, by_issuer.text
    assert by_issuer.json()["call_id"] == before["call_id"]


async def test_a_certificate_the_library_loaded_already_is_not_added_twice(
    client: httpx.AsyncClient,
    department_system: Callable[[str], Headers],
    reader: Headers,
    holder: str,
) -> None:
    subject = {"id_number": holder}
    card = certificate(subject)
    keeper = department_system("330000-big_data_administration")
    row = {
        "certificate_type": "senior_citizen_card",
        "certificate_name": "老年人优待证",
        "certificate_number": card["certificate_number"],
        "holder_name": HOLDER_NAME,
        "issuer_department_type": "civil_affairs",
        "issuing_department": "330302-civil_affairs",
        "valid_from": "2026-12-08",
        "valid_until": None,
        "certificate_status": "valid",
    }
    loaded = await client.post(
        "/exchange/v1/resources/electronic_certificate/records",
        json={"records": [{"subject": subject, "fields": row}]},
        headers=keeper,
    )
    assert loaded.status_code == 200, loaded.text

    published = await publish(client, department_system("330302-civil_affairs"), card)

    assert published.status_code == 201, published.text
    assert published.json()["receipt"]["entry"]["consumer"] == "330302-civil_affairs"
    held = await certificates_of(client, reader, subject)
    assert [row["certificate_number"] for row in held] == [card["certificate_number"]]


async def test_a_number_another_holder_holds_is_refused(
    client: httpx.AsyncClient,
    department_system: Callable[[str], Headers],
    population: list[PersonRow],
    problem: Problem,
    holder: str,
) -> None:
    civil_affairs = department_system("330302-civil_affairs")
    card = certificate({"id_number": holder})
    assert (await publish(client, civil_affairs, card)).status_code == 201

    other = {**card, "subject": {"id_number": population[0].id_number}}
    problem(await publish(client, civil_affairs, other), 409, "certificate_number_taken")


async def test_an_enterprises_licence_is_named_from_its_business_registration(
    app: FastAPI,
    client: httpx.AsyncClient,
    department_system: Callable[[str], Headers],
    dataset_rows: Callable[[str], list[dict[str, Any]]],
    reader: Headers,
) -> None:
    enterprise = dataset_rows("business_registration")[0]
    subject = {"credit_code": enterprise["credit_code"]}
    licence = certificate(subject, certificate_type="food_business_licence")
    market = department_system("330302-market_regulation")
    try:
        published = await publish(client, market, licence)
        assert published.status_code == 201, published.text
        assert published.json()["holder_named"] is True
        held = await certificates_of(client, reader, subject)
        assert held[-1]["certificate_number"] == licence["certificate_number"]
        assert held[-1]["holder_name"] == enterprise["enterprise_name"]
    finally:
        protector: IdentifierProtector = app.state.service.identifiers
        subject_hash = protector.credit_code_hash(enterprise["credit_code"])
        async with app.state.service.database.sessionmaker.begin() as session:
            published_rows = await session.scalars(
                delete(IssuedCertificate)
                .where(IssuedCertificate.subject_hash == subject_hash)
                .returning(IssuedCertificate.position)
            )
            positions = list(published_rows)
            await session.execute(
                delete(HostedRecord).where(
                    HostedRecord.resource_code == "electronic_certificate",
                    HostedRecord.subject_hash == subject_hash,
                    HostedRecord.position.in_(positions),
                )
            )


@pytest.mark.parametrize(
    ("caller", "changes", "status", "code"),
    [
        ("330302-public_security", {}, 403, "not_an_issuer"),
        (
            "330302-civil_affairs",
            {"issuing_department": "330100-civil_affairs"},
            403,
            "not_an_issuer",
        ),
        (
            "service:case-svc",
            {"issuing_department": "330302-public_security"},
            403,
            "not_an_issuer",
        ),
        (
            "service:rating-svc",
            {"issuing_department": "330302-civil_affairs"},
            403,
            "publisher_not_allowed",
        ),
        ("service:case-svc", {}, 422, "invalid_certificate"),
        ("service:case-svc", {"issuing_department": "civil_affairs"}, 422, "invalid_certificate"),
        (
            "330302-civil_affairs",
            {"certificate_type": "fishing_licence"},
            422,
            "invalid_certificate",
        ),
        ("330302-civil_affairs", {"valid_until": "2026-12-07"}, 422, "invalid_certificate"),
        (
            "330302-civil_affairs",
            {"subject": {"id_number": "330302195502110000"}},
            422,
            "invalid_subject",
        ),
        ("citizen", {}, 403, "wrong_principal_type"),
    ],
)
async def test_refusals(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    holder: str,
    caller: str,
    changes: dict[str, Any],
    status: int,
    code: str,
) -> None:
    if caller == "citizen":
        headers = bearer(token_minter.mint("account-x", typ="citizen", loa=2))
    elif caller.startswith("service:"):
        headers = bearer(token_minter.mint(caller.removeprefix("service:"), typ="service", loa=0))
    else:
        headers = bearer(token_minter.mint("system-x", typ="department_system", loa=0, dept=caller))
    problem(
        await publish(client, headers, certificate({"id_number": holder}, **changes)), status, code
    )


def test_the_issuers_name_only_types_of_the_library() -> None:
    spec = HOSTED["electronic_certificate"]
    with pytest.raises(InvalidIssuers):
        parse_issuers(
            {"certificate": [{"type": "fishing_licence", "name": "x", "issuers": ["x"]}]}, spec
        )
