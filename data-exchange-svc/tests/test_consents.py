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
    async with app.state.service.database.sessionmaker.begin() as session:
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


async def link(
    client: httpx.AsyncClient, identity: Headers, account: str, id_number: str = DEMO_ID
) -> httpx.Response:
    """identity-svc records, at the account's real-name verification, which subject it is."""
    return await client.put(
        f"/exchange/v1/citizen-links/{account}", json={"id_number": id_number}, headers=identity
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
    async with app.state.service.database.sessionmaker() as session:
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
            async with app.state.service.database.sessionmaker.begin() as session:
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
    ("token", "id_number", "status", "code"),
    [
        (("identity-svc", "service"), "330302195203140249", 422, "invalid_subject"),
        (("identity-svc", "service"), "110101199003070011", 404, "subject_not_found"),
        (("case-svc", "service"), DEMO_ID, 403, "not_the_identity_service"),
        (("account-x", "citizen"), DEMO_ID, 403, "wrong_principal_type"),
    ],
    ids=["malformed-id", "not-in-registry", "another-service", "the-citizen-herself"],
)
async def test_only_identity_svc_links_an_account_to_a_registry_subject(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    token: tuple[str, str],
    id_number: str,
    status: int,
    code: str,
) -> None:
    sub, typ = token
    headers = bearer(token_minter.mint(sub, typ=typ, loa=0 if typ == "service" else 2))  # type: ignore[arg-type]
    problem(await link(client, headers, "account-x", id_number), status, code)


async def test_a_newer_link_replaces_an_older_one_so_each_subject_has_one_account(
    client: httpx.AsyncClient,
    identity_svc: Headers,
    token_minter: TokenMinter,
    population: list[PersonRow],
) -> None:
    assert (await link(client, identity_svc, "account-1")).status_code == 200
    assert (await link(client, identity_svc, "account-1")).status_code == 200, "idempotent"
    # The same person verified again on another account: the subject follows the new account.
    assert (await link(client, identity_svc, "account-2")).status_code == 200
    access_log = "/exchange/v1/me/access-log"
    first = bearer(token_minter.mint("account-1", loa=2, region=DEMO_REGION))
    second = bearer(token_minter.mint("account-2", loa=2, region=DEMO_REGION))
    assert (await client.get(access_log, headers=first)).status_code == 404
    assert (await client.get(access_log, headers=second)).status_code == 200
    other = population[1]
    assert (await link(client, identity_svc, "account-2", other.id_number)).status_code == 200


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
    identity_svc: Headers,
    demo_citizen_token: Headers,
    problem: Problem,
    overrides: dict[str, Any],
    status: int,
    code: str,
) -> None:
    assert (await link(client, identity_svc, "account-demo")).status_code == 200
    response = await client.post(
        "/exchange/v1/me/consents",
        json=consent_body(**overrides),
        headers=demo_citizen_token,
    )
    problem(response, status, code)


async def test_a_citizen_cannot_see_or_revoke_anothers_consent(
    client: httpx.AsyncClient,
    identity_svc: Headers,
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
    response = await link(client, identity_svc, "account-9", other.id_number)
    assert response.status_code == 200, response.text
    problem(
        await client.delete(f"/exchange/v1/me/consents/{consent_id}", headers=headers),
        404,
        "consent_not_found",
    )
    assert (await client.get("/exchange/v1/me/consents", headers=headers)).json() == {"items": []}


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        (None, 422, "unknown_case"),
        (
            {"applicant": "account-someone-else", "department": "330302-civil_affairs"},
            422,
            "unknown_case",
        ),
        (
            {"applicant": "account-demo", "department": "330302-public_security"},
            422,
            "case_not_handled_by_consumer",
        ),
        (
            {
                "applicant": "account-demo",
                "department": "330302-civil_affairs",
                "status": "completed",
            },
            409,
            "case_closed",
        ),
    ],
    ids=["no-such-case", "anothers-case", "another-department", "closed"],
)
async def test_a_consent_is_for_an_open_case_of_hers_that_the_consumer_handles(
    client: httpx.AsyncClient,
    identity_svc: Headers,
    demo_citizen_token: Headers,
    case_svc: Any,
    problem: Problem,
    case: dict[str, str] | None,
    status: int,
    code: str,
) -> None:
    assert (await link(client, identity_svc, "account-demo")).status_code == 200
    if case is not None:
        case_svc.open(CASE, **case)
    response = await client.post(
        "/exchange/v1/me/consents", json=consent_body(), headers=demo_citizen_token
    )
    problem(response, status, code)
    # case-svc was asked as her, through the gateway, and nothing was kept.
    assert case_svc.asked == [(CASE, demo_citizen_token["Authorization"])]
    mine = await client.get("/exchange/v1/me/consents", headers=demo_citizen_token)
    assert mine.json()["items"] == []


@pytest.mark.parametrize("answer", [500, 503, 401])
async def test_no_consent_while_case_svc_cannot_say(
    client: httpx.AsyncClient,
    identity_svc: Headers,
    demo_citizen_token: Headers,
    case_svc: Any,
    problem: Problem,
    answer: int,
) -> None:
    assert (await link(client, identity_svc, "account-demo")).status_code == 200
    case_svc.open(CASE, applicant="account-demo", department="330302-civil_affairs")
    case_svc.failing_with = answer
    response = await client.post(
        "/exchange/v1/me/consents", json=consent_body(), headers=demo_citizen_token
    )
    problem(response, 503, "upstream_unavailable")
    case_svc.failing_with = None
    given = await client.post(
        "/exchange/v1/me/consents", json=consent_body(), headers=demo_citizen_token
    )
    assert given.status_code == 201, given.text
