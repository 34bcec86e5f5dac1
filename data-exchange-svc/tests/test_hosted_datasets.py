"""Calls and matches on the hosted datasets beyond the population: a granted caller reads what
its grant allows (a list per field for a many-row resource, in the resource's order); anyone
else learns nothing."""

import datetime as dt
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from data_exchange_svc.models import SharingGrant
from data_exchange_svc.resources.spec import HOSTED
from servicekit.db import utcnow
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]
GrantMaker = Callable[..., Awaitable[Headers]]
DatasetRows = Callable[[str], list[dict[str, Any]]]

DEMO_ID = "330302195203140248"
DEMO_CREDIT_CODE = "91330302MA1P3D8712"
DEMO_GRANDSON_ID = "330302199807160512"
PURPOSE = "service_delivery"

#: Per dataset, the fields a test grant covers and a call reads.
READS = {
    "household_registration": ["household_number", "relation_to_head", "head_id_number", "members"],
    "marriage_registration": [
        "spouse_name",
        "spouse_id_number",
        "registered_on",
        "marital_status",
        "divorced_on",
    ],
    "birth_certificate": ["mother_id_number", "father_name", "hospital_name", "birth_date"],
    "social_security_contribution": [
        "insurance_type",
        "insured_status",
        "months_contributed",
        "last_contribution_month",
    ],
    "housing_provident_fund": ["account_number", "monthly_deposit", "balance"],
    "motor_vehicle": ["plate_number", "vehicle_type", "registered_on"],
    "traffic_violation": ["plate_number", "points", "fine", "handled"],
    "utility_account": ["utility_type", "account_number", "balance_due"],
    "business_registration": [
        "credit_code",
        "enterprise_name",
        "registration_status",
        "legal_representative_id_number",
    ],
    "electronic_certificate": ["certificate_number", "certificate_type", "valid_until"],
}


def subject_of(row: dict[str, Any]) -> dict[str, str]:
    if row.get("id_number"):
        return {"id_number": row["id_number"]}
    return {"credit_code": row["credit_code"]}


def typed(code: str, field: str, cell: Any) -> Any:
    """A file's cell as the API answers it (CSV cells are text)."""
    kind = HOSTED[code].field(field).type
    if cell == "":
        return None
    if kind == "integer":
        return int(cell)
    if kind == "boolean":
        return cell == "true"
    return cell


def expected_answer(
    code: str, rows: list[dict[str, Any]], subject: dict[str, str]
) -> dict[str, Any]:
    spec = HOSTED[code]
    mine = [row for row in rows if subject_of(row) == subject]
    if spec.order_by is not None:
        mine.sort(key=lambda row: (row[spec.order_by] != "", row[spec.order_by]))
    if spec.rows == "one":
        (row,) = mine
        return {
            field: subject["credit_code"]
            if field == "credit_code"
            else typed(code, field, row[field])
            for field in READS[code]
        }
    return {field: [typed(code, field, row[field]) for row in mine] for field in READS[code]}


def busiest_subject(rows: list[dict[str, Any]]) -> dict[str, str]:
    """The first subject among those with the most rows (many-row resources show lists)."""
    counts = Counter(tuple(subject_of(row).items()) for row in rows)
    most = max(counts.values())
    first = next(row for row in rows if counts[tuple(subject_of(row).items())] == most)
    return subject_of(first)


def call_body(code: str, subject: dict[str, str], fields: list[str], **more: Any) -> dict[str, Any]:
    return {"resource": code, "subject": subject, "fields": fields, "purpose": PURPOSE, **more}


@pytest.mark.parametrize("code", list(READS))
async def test_a_granted_service_reads_a_subjects_fields_as_the_provider_loaded_them(
    client: httpx.AsyncClient,
    service_with_grant: GrantMaker,
    dataset_rows: DatasetRows,
    code: str,
) -> None:
    rows = dataset_rows(code)
    subject = busiest_subject(rows)
    headers = await service_with_grant(resource=code, fields=READS[code], purposes=[PURPOSE])
    response = await client.post(
        "/exchange/v1/calls", json=call_body(code, subject, READS[code]), headers=headers
    )
    assert response.status_code == 200, response.text
    answer = response.json()["fields"]
    assert answer == expected_answer(code, rows, subject)
    if HOSTED[code].rows == "many":
        assert all(len(values) >= 2 for values in answer.values())


@pytest.mark.parametrize("code", list(READS))
async def test_a_field_outside_the_grant_refuses_the_whole_call(
    client: httpx.AsyncClient,
    service_with_grant: GrantMaker,
    dataset_rows: DatasetRows,
    problem: Problem,
    code: str,
) -> None:
    subject = subject_of(dataset_rows(code)[0])
    granted, withheld = READS[code][:-1], READS[code][-1]
    headers = await service_with_grant(resource=code, fields=granted, purposes=[PURPOSE])
    response = await client.post(
        "/exchange/v1/calls", json=call_body(code, subject, READS[code]), headers=headers
    )
    refusal = problem(response, 403, "field_not_granted")
    assert refusal["fields"] == [withheld]
    assert refusal["receipt"]["entry"]["outcome"] == "refused"


@pytest.mark.parametrize("code", list(READS))
async def test_a_caller_without_a_grant_on_the_dataset_is_refused(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    dataset_rows: DatasetRows,
    problem: Problem,
    code: str,
) -> None:
    # A platform service that reads no registry (case-svc holds a seeded grant on certificates).
    stranger = bearer(token_minter.mint("rating-svc", typ="service", loa=0))
    subject = subject_of(dataset_rows(code)[0])
    response = await client.post(
        "/exchange/v1/calls", json=call_body(code, subject, READS[code][:1]), headers=stranger
    )
    problem(response, 403, "no_grant")


async def test_case_svc_reads_a_persons_certificates_for_a_case_on_its_seeded_grant_alone(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    dataset_rows: DatasetRows,
    problem: Problem,
) -> None:
    """The seed's grant: what a certificate is, its number, issuer and validity for case review,
    no consent asked (a platform service's read), and never the holder's name."""
    case_svc = bearer(token_minter.mint("case-svc", typ="service", loa=0))
    row = next(row for row in dataset_rows("electronic_certificate") if row.get("id_number"))
    fields = ["certificate_type", "certificate_number", "valid_until", "certificate_status"]
    body = {
        "resource": "electronic_certificate",
        "subject": {"id_number": row["id_number"]},
        "purpose": "case_review",
        "case_id": "330300-20261126-000001",
    }

    read = await client.post(
        "/exchange/v1/calls", json={**body, "fields": fields}, headers=case_svc
    )

    assert read.status_code == 200, read.text
    assert row["certificate_number"] in read.json()["fields"]["certificate_number"]
    entry = read.json()["receipt"]["entry"]
    assert (entry["consumer"], entry["case_id"]) == ("case-svc", "330300-20261126-000001")
    named = await client.post(
        "/exchange/v1/calls", json={**body, "fields": ["holder_name"]}, headers=case_svc
    )
    assert problem(named, 403, "field_not_granted")["fields"] == ["holder_name"]
    elsewhere = await client.post(
        "/exchange/v1/calls",
        json={**body, "fields": fields, "purpose": "case_prefill"},
        headers=case_svc,
    )
    problem(elsewhere, 403, "purpose_not_allowed")


async def test_a_person_the_dataset_holds_nothing_about_is_not_found(
    client: httpx.AsyncClient, service_with_grant: GrantMaker, problem: Problem
) -> None:
    # The demo citizen is widowed: no marriage registration of hers is held.
    headers = await service_with_grant(
        resource="marriage_registration", fields=["spouse_name"], purposes=[PURPOSE]
    )
    response = await client.post(
        "/exchange/v1/calls",
        json=call_body("marriage_registration", {"id_number": DEMO_ID}, ["spouse_name"]),
        headers=headers,
    )
    problem(response, 404, "subject_not_found")


async def test_a_match_on_a_many_row_dataset_holds_if_one_row_satisfies_every_claim(
    client: httpx.AsyncClient, service_with_grant: GrantMaker, dataset_rows: DatasetRows
) -> None:
    vehicles = dataset_rows("motor_vehicle")
    subject = busiest_subject(vehicles)
    mine = [row for row in vehicles if subject_of(row) == subject]
    theirs = next(row for row in vehicles if subject_of(row) != subject)
    headers = await service_with_grant(
        resource="motor_vehicle", fields=["plate_number", "vehicle_type"], purposes=[PURPOSE]
    )

    async def matches(claims: dict[str, str]) -> bool:
        body = {"resource": "motor_vehicle", "subject": subject, "claims": claims}
        response = await client.post(
            "/exchange/v1/matches", json={**body, "purpose": PURPOSE}, headers=headers
        )
        assert response.status_code == 200, response.text
        verdict: bool = response.json()["match"]
        return verdict

    first, second = mine[0], mine[1]
    assert await matches({"plate_number": first["plate_number"]})
    assert await matches({"plate_number": second["plate_number"]})
    assert await matches(
        {"plate_number": first["plate_number"], "vehicle_type": first["vehicle_type"]}
    )
    assert not await matches({"plate_number": theirs["plate_number"]})
    other_types = {"small_car", "motorcycle"} - {first["vehicle_type"]}
    assert not await matches(
        {"plate_number": first["plate_number"], "vehicle_type": sorted(other_types)[0]}
    )


async def test_an_identity_number_in_a_record_is_matched_by_its_keyed_hash(
    client: httpx.AsyncClient, service_with_grant: GrantMaker, dataset_rows: DatasetRows
) -> None:
    birth = dataset_rows("birth_certificate")[0]
    headers = await service_with_grant(
        resource="birth_certificate", fields=["mother_id_number"], purposes=[PURPOSE]
    )

    async def mother_is(id_number: str) -> bool:
        response = await client.post(
            "/exchange/v1/matches",
            json={
                "resource": "birth_certificate",
                "subject": {"id_number": birth["id_number"]},
                "claims": {"mother_id_number": id_number},
                "purpose": PURPOSE,
            },
            headers=headers,
        )
        assert response.status_code == 200, response.text
        verdict: bool = response.json()["match"]
        return verdict

    assert await mother_is(birth["mother_id_number"])
    assert await mother_is(f" {birth['mother_id_number'].lower()} ")
    assert not await mother_is(birth["father_id_number"])
    assert not await mother_is("not a number")


async def test_a_department_reading_a_persons_record_needs_her_consent_but_not_an_enterprises(
    client: httpx.AsyncClient, app: FastAPI, token_minter: TokenMinter, problem: Problem
) -> None:
    department = f"330302-test_{secrets.token_hex(4)}"
    async with app.state.service.database.sessionmaker.begin() as session:
        for code, fields in (
            ("household_registration", ["household_number"]),
            ("business_registration", ["enterprise_name", "legal_representative_id_number"]),
        ):
            session.add(
                SharingGrant(
                    consumer=department, resource_code=code, fields=fields, purposes=[PURPOSE]
                )
            )
    headers = bearer(token_minter.mint("system-1", typ="department_system", loa=0, dept=department))
    person = await client.post(
        "/exchange/v1/calls",
        json=call_body("household_registration", {"id_number": DEMO_ID}, ["household_number"]),
        headers=headers,
    )
    problem(person, 403, "consent_required")
    enterprise = await client.post(
        "/exchange/v1/calls",
        json=call_body(
            "business_registration",
            {"credit_code": DEMO_CREDIT_CODE},
            ["enterprise_name", "legal_representative_id_number"],
        ),
        headers=headers,
    )
    assert enterprise.status_code == 200, enterprise.text
    assert enterprise.json()["fields"]["legal_representative_id_number"] == DEMO_GRANDSON_ID


async def test_identity_svc_verifies_the_demo_enterprises_legal_representative(
    client: httpx.AsyncClient, identity_svc: Headers, problem: Problem
) -> None:
    async def represents(id_number: str) -> bool:
        response = await client.post(
            "/exchange/v1/matches",
            json={
                "resource": "business_registration",
                "subject": {"credit_code": DEMO_CREDIT_CODE},
                "claims": {"legal_representative_id_number": id_number},
                "purpose": "enterprise_representation",
            },
            headers=identity_svc,
        )
        assert response.status_code == 200, response.text
        verdict: bool = response.json()["match"]
        return verdict

    assert await represents(DEMO_GRANDSON_ID)
    assert not await represents(DEMO_ID)
    read = await client.post(
        "/exchange/v1/calls",
        json={
            "resource": "business_registration",
            "subject": {"credit_code": DEMO_CREDIT_CODE},
            "fields": ["enterprise_name", "registration_status", "registered_region"],
            "purpose": "enterprise_representation",
        },
        headers=identity_svc,
    )
    assert read.status_code == 200, read.text
    assert read.json()["fields"] == {
        "enterprise_name": "温州市鹿城区浩宇网络科技有限公司（合成数据）",
        "registration_status": "active",
        "registered_region": "330302",
    }
    beyond = await client.post(
        "/exchange/v1/calls",
        json={
            "resource": "business_registration",
            "subject": {"credit_code": DEMO_CREDIT_CODE},
            "fields": ["established_on"],
            "purpose": "enterprise_representation",
        },
        headers=identity_svc,
    )
    problem(beyond, 403, "field_not_granted")


async def test_the_citizens_access_log_shows_reads_of_her_other_records(
    client: httpx.AsyncClient,
    service_with_grant: GrantMaker,
    demo_consent: Callable[..., Awaitable[str]],
    demo_citizen_token: Headers,
) -> None:
    # Linking happens inside demo_consent; the consent itself is not needed by a service.
    await demo_consent(
        consumer="330302-civil_affairs",
        fields=["name"],
        purpose=PURPOSE,
        case_id="330302-20261126-000009",
    )
    headers = await service_with_grant(
        resource="household_registration", fields=["members"], purposes=[PURPOSE]
    )
    response = await client.post(
        "/exchange/v1/calls",
        json=call_body("household_registration", {"id_number": DEMO_ID}, ["members"]),
        headers=headers,
    )
    assert response.status_code == 200, response.text
    log = (await client.get("/exchange/v1/me/access-log", headers=demo_citizen_token)).json()
    assert [(item["resource"], item["fields"]) for item in log["items"]][:1] == [
        ("household_registration", ["members"])
    ]


async def test_a_citizen_cannot_consent_on_a_resource_that_is_not_about_people(
    client: httpx.AsyncClient,
    demo_consent: Callable[..., Awaitable[str]],
    demo_citizen_token: Headers,
    problem: Problem,
) -> None:
    await demo_consent(
        consumer="330302-civil_affairs",
        fields=["name"],
        purpose=PURPOSE,
        case_id="330302-20261126-000010",
    )
    response = await client.post(
        "/exchange/v1/me/consents",
        json={
            "consumer": "330302-civil_affairs",
            "resource": "business_registration",
            "fields": ["enterprise_name"],
            "purpose": PURPOSE,
            "case_id": "330302-20261126-000010",
            "expires_at": (utcnow() + dt.timedelta(days=30)).isoformat(),
        },
        headers=demo_citizen_token,
    )
    problem(response, 422, "consent_not_applicable")
