"""Citizen consents: a department reads a citizen's personal data for her case only with her
live consent naming that department, resource, purpose, case and fields; every refusal lands in
the ledger. The citizen links her account to her registry subject first."""

import datetime as dt
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from data_exchange_svc.models import Consent, LedgerEntry, SharingGrant
from data_exchange_svc.registry.dataset import PersonRow
from servicekit.db import utcnow
from servicekit.testing import TokenMinter, bearer

Headers = dict[str, str]
Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
GrantMaker = Callable[..., Awaitable[Headers]]
ConsentGiver = Callable[..., Awaitable[str]]

DEMO_ID = "330302195203140248"
DEMO_REGION = "330302026003"
CASE = "330302-20261126-000042"
FIELDS = ["name", "registered_address"]
PURPOSE = "minimum_living_allowance"


def in_days(days: float) -> str:
    return (utcnow() + dt.timedelta(days=days)).isoformat()


def call_body(**overrides: Any) -> dict[str, Any]:
    return {
        "resource": "population",
        "subject": {"id_number": DEMO_ID},
        "fields": FIELDS,
        "purpose": PURPOSE,
        "case_id": CASE,
        **overrides,
    }


def consent_body(**overrides: Any) -> dict[str, Any]:
    return {
        "consumer": "330302-civil_affairs",
        "resource": "population",
        "fields": FIELDS,
        "purpose": PURPOSE,
        "case_id": CASE,
        "expires_at": in_days(30),
        **overrides,
    }


class Department:
    """A fresh department holding a grant for FIELDS and PURPOSE; its system's token."""

    def __init__(self, department_id: str, headers: Headers) -> None:
        self.id, self.headers = department_id, headers


@pytest.fixture
async def department(app: FastAPI, token_minter: TokenMinter) -> Department:
    department_id = f"330302-test_{secrets.token_hex(4)}"
    async with app.state.database.sessionmaker.begin() as session:
        session.add(
            SharingGrant(
                consumer=department_id,
                resource_code="population",
                fields=FIELDS,
                purposes=[PURPOSE],
            )
        )
    token = token_minter.mint("system-1", typ="department_system", loa=0, dept=department_id)
    return Department(department_id, bearer(token))


async def link(client: httpx.AsyncClient, headers: Headers, **body: str) -> httpx.Response:
    return await client.put(
        "/exchange/v1/me/subject",
        json={"id_number": DEMO_ID, "name": "林秀英", **body},
        headers=headers,
    )


async def test_a_consented_call_reads_the_fields_and_revoking_stops_the_next_one(
    app: FastAPI,
    client: httpx.AsyncClient,
    department: Department,
    demo_consent: ConsentGiver,
    demo_citizen_token: Headers,
    problem: Problem,
) -> None:
    consent_id = await demo_consent(
        consumer=department.id, fields=FIELDS, purpose=PURPOSE, case_id=CASE
    )
    allowed = await client.post("/exchange/v1/calls", json=call_body(), headers=department.headers)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["fields"]["name"] == "林秀英"

    revoked = await client.delete(
        f"/exchange/v1/me/consents/{consent_id}", headers=demo_citizen_token
    )
    assert revoked.status_code == 204
    refused = await client.post("/exchange/v1/calls", json=call_body(), headers=department.headers)
    assert "receipt" in problem(refused, 403, "consent_revoked")

    listed = await client.get("/exchange/v1/me/consents", headers=demo_citizen_token)
    (consent,) = listed.json()["items"]
    assert (consent["id"], consent["status"]) == (consent_id, "revoked")
    async with app.state.database.sessionmaker() as session:
        outcomes = (await session.execute(select(LedgerEntry.outcome, LedgerEntry.code))).all()
    assert sorted(outcomes, key=str) == [("allowed", None), ("refused", "consent_revoked")]


@pytest.mark.parametrize(
    ("consent", "call", "code"),
    [
        (None, {}, "consent_required"),
        ({}, {"case_id": None}, "consent_required"),
        ({}, {"case_id": "330302-20261126-000043"}, "consent_required"),
        ({}, {"fields": ["name", "registered_address", "birth_date"]}, "field_not_granted"),
        ({"fields": ["name"]}, {}, "consent_required"),
        ({"purpose": "statistics"}, {}, "consent_required"),
        ({"consumer": "330302-civil_affairs"}, {}, "consent_required"),
        ({"expire": True}, {}, "consent_expired"),
    ],
    ids=[
        "no-consent",
        "no-case-named",
        "another-case",
        "field-not-granted-comes-first",
        "a-field-not-consented",
        "another-purpose",
        "another-department",
        "expired",
    ],
)
async def test_a_department_call_without_a_matching_live_consent_is_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    department: Department,
    demo_consent: ConsentGiver,
    problem: Problem,
    consent: dict[str, Any] | None,
    call: dict[str, Any],
    code: str,
) -> None:
    if consent is not None:
        consent_id = await demo_consent(
            consumer=consent.get("consumer", department.id),
            fields=consent.get("fields", FIELDS),
            purpose=consent.get("purpose", PURPOSE),
            case_id=CASE,
        )
        if consent.get("expire"):
            # A consent cannot be given already expired: let time pass for this one.
            async with app.state.database.sessionmaker.begin() as session:
                await session.execute(
                    update(Consent)
                    .where(Consent.id == uuid.UUID(consent_id))
                    .values(expires_at=utcnow() - dt.timedelta(seconds=1))
                )
    response = await client.post(
        "/exchange/v1/calls", json=call_body(**call), headers=department.headers
    )
    body = problem(response, 403, code)
    assert body["receipt"]["entry"]["code"] == code
    assert body["receipt"]["entry"]["outcome"] == "refused"


async def test_platform_services_and_matches_need_no_consent(
    client: httpx.AsyncClient, identity_svc: Headers
) -> None:
    call = await client.post(
        "/exchange/v1/calls",
        json=call_body(fields=["registered_region"], purpose="face_verification", case_id=None),
        headers=identity_svc,
    )
    assert call.status_code == 200, call.text
    match = await client.post(
        "/exchange/v1/matches",
        json={
            "resource": "population",
            "subject": {"id_number": DEMO_ID},
            "claims": {"name": "林秀英"},
            "purpose": "real_name_verification",
        },
        headers=identity_svc,
    )
    assert match.json()["match"] is True


@pytest.mark.parametrize(
    ("claims", "body", "status", "code"),
    [
        ({"region": DEMO_REGION}, {"name": "林秀芳"}, 403, "subject_mismatch"),
        ({"region": "330302001001"}, {}, 403, "subject_mismatch"),
        ({}, {}, 403, "subject_mismatch"),
        ({"region": DEMO_REGION}, {"id_number": "330302195203140249"}, 422, "invalid_subject"),
        ({"region": DEMO_REGION, "loa": 1}, {}, 403, "insufficient_assurance"),
        ({"region": DEMO_REGION, "typ": "staff"}, {}, 403, "wrong_principal_type"),
        ({"region": DEMO_REGION, "act": "helper-1"}, {}, 403, "delegate_not_allowed"),
    ],
    ids=[
        "wrong-name",
        "another-region",
        "no-region-before-real-name",
        "malformed-id",
        "loa-1",
        "staff",
        "delegate",
    ],
)
async def test_a_citizen_links_only_her_own_registry_subject(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    claims: dict[str, Any],
    body: dict[str, str],
    status: int,
    code: str,
) -> None:
    headers = bearer(token_minter.mint("account-x", **{"typ": "citizen", "loa": 2, **claims}))
    problem(await link(client, headers, **body), status, code)


async def test_an_account_and_a_subject_are_linked_one_to_one(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    population: list[PersonRow],
    problem: Problem,
) -> None:
    first = bearer(token_minter.mint("account-1", loa=2, region=DEMO_REGION))
    assert (await link(client, first)).status_code == 200
    assert (await link(client, first)).status_code == 200, "linking again is idempotent"

    second = bearer(token_minter.mint("account-2", loa=2, region=DEMO_REGION))
    problem(await link(client, second), 409, "subject_linked_to_another_account")

    other = population[1]
    first_elsewhere = bearer(token_minter.mint("account-1", loa=2, region=other.registered_region))
    response = await link(client, first_elsewhere, id_number=other.id_number, name=other.name)
    problem(response, 409, "account_linked_to_another_subject")


async def test_consents_need_a_linked_account(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    headers = bearer(token_minter.mint("account-new", loa=2, region=DEMO_REGION))
    response = await client.post("/exchange/v1/me/consents", json=consent_body(), headers=headers)
    problem(response, 404, "subject_not_linked")


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"expires_at": in_days(-1)}, 422, "invalid_expiry"),
        ({"expires_at": in_days(400)}, 422, "invalid_expiry"),
        ({"fields": ["salary"]}, 422, "unknown_field"),
        ({"resource": "tax_records"}, 404, "resource_not_found"),
        ({"case_id": "not-a-case"}, 422, "validation_failed"),
        ({"consumer": "civil affairs"}, 422, "validation_failed"),
    ],
    ids=["past", "beyond-a-year", "unknown-field", "unknown-resource", "bad-case", "bad-dept"],
)
async def test_a_bad_consent_is_refused_with_a_stable_code(
    client: httpx.AsyncClient,
    demo_citizen_token: Headers,
    problem: Problem,
    overrides: dict[str, Any],
    status: int,
    code: str,
) -> None:
    assert (await link(client, demo_citizen_token)).status_code == 200
    response = await client.post(
        "/exchange/v1/me/consents",
        json=consent_body(**overrides),
        headers=demo_citizen_token,
    )
    problem(response, status, code)


async def test_a_citizen_cannot_see_or_revoke_anothers_consent(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    population: list[PersonRow],
    demo_consent: ConsentGiver,
    problem: Problem,
) -> None:
    consent_id = await demo_consent(
        consumer="330302-civil_affairs", fields=FIELDS, purpose=PURPOSE, case_id=CASE
    )
    other = population[1]
    headers = bearer(token_minter.mint("account-9", loa=2, region=other.registered_region))
    response = await link(client, headers, id_number=other.id_number, name=other.name)
    assert response.status_code == 200, response.text
    problem(
        await client.delete(f"/exchange/v1/me/consents/{consent_id}", headers=headers),
        404,
        "consent_not_found",
    )
    assert (await client.get("/exchange/v1/me/consents", headers=headers)).json() == {"items": []}
