"""Pre-fill reads: a platform service reads a citizen's data for her draft application only on
her live consent to the draft, naming the department that will handle it; the ledger and her
access log show that department as the reader, with the purpose ``case_prefill``. Nobody else
may name a department to read for."""

import datetime as dt
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from data_exchange_svc.models import LedgerEntry, SharingGrant
from data_exchange_svc.registry.dataset import PersonRow
from data_exchange_svc.seed import CASE_SVC_PREFILL_GRANTS
from servicekit.db import utcnow
from servicekit.testing import TokenMinter, bearer

from .conftest import CaseService

Headers = dict[str, str]
Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

DRAFT = "330302-D20261207-0a1b2c3d4e5f"
DEPARTMENT = "330302-public_security"
FIELDS = ["registered_address"]
PURPOSE = "case_prefill"


@pytest.fixture
def case_svc_token(token_minter: TokenMinter) -> Headers:
    """case-svc's own service token: the seed gives it the pre-fill grant."""
    return bearer(token_minter.mint("case-svc", typ="service", loa=0))


def read_body(demo_citizen: PersonRow, **overrides: Any) -> dict[str, Any]:
    return {
        "resource": "population",
        "subject": {"id_number": demo_citizen.id_number},
        "fields": FIELDS,
        "purpose": PURPOSE,
        "case_id": DRAFT,
        "for_department": DEPARTMENT,
        **overrides,
    }


async def consent_to_draft(
    client: httpx.AsyncClient,
    case_svc: CaseService,
    identity_svc: Headers,
    citizen: Headers,
    demo_citizen: PersonRow,
    *,
    applicant: str = "account-demo",
) -> httpx.Response:
    case_svc.open(DRAFT, applicant=applicant, department=DEPARTMENT, status="draft")
    linked = await client.put(
        "/exchange/v1/citizen-links/account-demo",
        json={"id_number": demo_citizen.id_number},
        headers=identity_svc,
    )
    assert linked.status_code == 200, linked.text
    return await client.post(
        "/exchange/v1/me/consents",
        json={
            "consumer": DEPARTMENT,
            "resource": "population",
            "fields": FIELDS,
            "purpose": PURPOSE,
            "case_id": DRAFT,
            "expires_at": (utcnow() + dt.timedelta(days=7)).isoformat(),
        },
        headers=citizen,
    )


async def test_a_pre_fill_read_without_her_consent_is_refused_though_the_service_holds_a_grant(
    client: httpx.AsyncClient,
    case_svc_token: Headers,
    demo_citizen: PersonRow,
    problem: Problem,
) -> None:
    refused = await client.post(
        "/exchange/v1/calls", json=read_body(demo_citizen), headers=case_svc_token
    )
    body = problem(refused, 403, "consent_required")
    assert body["fields"] == FIELDS
    assert "receipt" in body


async def test_her_consent_to_the_draft_lets_the_read_through_recorded_as_the_departments(
    app: FastAPI,
    client: httpx.AsyncClient,
    case_svc: CaseService,
    case_svc_token: Headers,
    identity_svc: Headers,
    demo_citizen_token: Headers,
    demo_citizen: PersonRow,
) -> None:
    given = await consent_to_draft(client, case_svc, identity_svc, demo_citizen_token, demo_citizen)
    assert given.status_code == 201, given.text
    # The exchange asked case-svc about the draft by the draft's own path, as her.
    assert [number for number, _ in case_svc.asked] == [DRAFT]

    read = await client.post(
        "/exchange/v1/calls", json=read_body(demo_citizen), headers=case_svc_token
    )
    assert read.status_code == 200, read.text
    assert read.json()["fields"] == {"registered_address": demo_citizen.registered_address}
    assert read.json()["provider_department_type"] == "public_security"
    assert read.json()["consents"] == [given.json()["id"]]

    async with app.state.service.database.sessionmaker() as session:
        entry = (
            await session.execute(
                select(LedgerEntry).where(LedgerEntry.call_id == uuid.UUID(read.json()["call_id"]))
            )
        ).scalar_one()
    assert (entry.consumer, entry.actor, entry.purpose, entry.case_id, entry.outcome) == (
        DEPARTMENT,
        "case-svc",
        PURPOSE,
        DRAFT,
        "allowed",
    )
    log = await client.get("/exchange/v1/me/access-log", headers=demo_citizen_token)
    assert log.status_code == 200, log.text
    (logged,) = [item for item in log.json()["items"] if item["call_id"] == read.json()["call_id"]]
    assert (logged["consumer"], logged["purpose"], logged["case_id"]) == (
        DEPARTMENT,
        PURPOSE,
        DRAFT,
    )


async def test_a_consent_to_someone_elses_draft_is_refused(
    client: httpx.AsyncClient,
    case_svc: CaseService,
    identity_svc: Headers,
    demo_citizen_token: Headers,
    demo_citizen: PersonRow,
    problem: Problem,
) -> None:
    given = await consent_to_draft(
        client, case_svc, identity_svc, demo_citizen_token, demo_citizen, applicant="account-x"
    )
    problem(given, 422, "unknown_case")


@pytest.mark.parametrize(
    ("typ", "purpose"),
    [
        pytest.param("department_system", PURPOSE, id="a department names another"),
        pytest.param("service", "case_review", id="a service reading for itself"),
    ],
)
async def test_only_a_service_reading_for_the_citizen_names_a_department_to_read_for(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    demo_citizen: PersonRow,
    problem: Problem,
    typ: str,
    purpose: str,
) -> None:
    caller = f"330302-test_{secrets.token_hex(4)}"
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(
            SharingGrant(
                consumer=caller,
                resource_code="population",
                fields=FIELDS,
                purposes=[purpose],
            )
        )
    token = token_minter.mint(
        "caller-1", typ=typ, loa=0, dept=caller if typ == "department_system" else None
    )
    refused = await client.post(
        "/exchange/v1/calls",
        json=read_body(demo_citizen, purpose=purpose),
        headers=bearer(token),
    )
    problem(refused, 422, "for_department_not_allowed")
    # Nothing was recorded in the name of the department it named.
    async with app.state.service.database.sessionmaker() as session:
        named = await session.scalar(
            select(LedgerEntry.seq).where(LedgerEntry.consumer == DEPARTMENT)
        )
    assert named is None


def test_case_svc_may_pre_fill_only_what_forms_bind_beyond_the_applicants_identity() -> None:
    # Which fields: tests/test_prefill_coverage.py holds the list to the catalog's forms.
    assert {grant.purposes for grant in CASE_SVC_PREFILL_GRANTS} == {("case_prefill",)}
    assert {grant.consumer for grant in CASE_SVC_PREFILL_GRANTS} == {"case-svc"}
    [population] = [
        grant for grant in CASE_SVC_PREFILL_GRANTS if grant.resource_code == "population"
    ]
    assert not {"name", "id_number", "face_template"} & set(population.fields)
