"""The citizen's access log: every attempt on her data — who, what, when, why, the outcome —
newest first, paginated, each with a receipt that verifies; nobody else's entries."""

import base64
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from data_exchange_svc.ledger.verify import verify_receipt
from data_exchange_svc.models import SharingGrant
from data_exchange_svc.registry.dataset import PersonRow
from servicekit.testing import TokenMinter, bearer

Headers = dict[str, str]
Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
ConsentGiver = Callable[..., Awaitable[str]]

DEMO_ID = "330302195203140248"
CASE = "330302-20261126-000077"


def call_body(id_number: str = DEMO_ID, **overrides: Any) -> dict[str, Any]:
    return {
        "resource": "population",
        "subject": {"id_number": id_number},
        "fields": ["name", "birth_date"],
        "purpose": "elderly_allowance",
        "case_id": CASE,
        **overrides,
    }


@pytest.fixture
async def department(app: FastAPI, token_minter: TokenMinter) -> tuple[str, Headers]:
    department_id = f"330302-test_{secrets.token_hex(4)}"
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(
            SharingGrant(
                consumer=department_id,
                resource_code="population",
                fields=["name", "birth_date"],
                purposes=["elderly_allowance"],
            )
        )
    token = token_minter.mint("clerk-5", typ="staff", dept=department_id)
    return department_id, bearer(token)


async def test_the_log_shows_who_read_what_when_and_why_including_refusals(
    client: httpx.AsyncClient,
    department: tuple[str, Headers],
    demo_consent: ConsentGiver,
    demo_citizen_token: Headers,
    population: list[PersonRow],
) -> None:
    department_id, staff = department
    refused = await client.post("/exchange/v1/calls", json=call_body(), headers=staff)
    assert refused.status_code == 403
    await demo_consent(
        consumer=department_id,
        fields=["name", "birth_date"],
        purpose="elderly_allowance",
        case_id=CASE,
    )
    allowed = await client.post("/exchange/v1/calls", json=call_body(), headers=staff)
    assert allowed.status_code == 200, allowed.text
    # About somebody else: not in her log.
    other = await client.post(
        "/exchange/v1/calls", json=call_body(population[1].id_number), headers=staff
    )
    assert other.status_code == 403

    log = await client.get("/exchange/v1/me/access-log", headers=demo_citizen_token)
    assert log.status_code == 200, log.text
    items = log.json()["items"]
    assert [(item["outcome"], item["code"]) for item in items] == [
        ("allowed", None),
        ("refused", "consent_required"),
    ]
    # Refused before she consented: the case the department named is not hers to show yet.
    assert items[1]["case_id"] is None
    newest = items[0]
    assert newest["call_id"] == allowed.json()["call_id"]
    assert (newest["consumer"], newest["resource"], newest["fields"]) == (
        department_id,
        "population",
        ["name", "birth_date"],
    )
    assert (newest["purpose"], newest["case_id"], newest["kind"]) == (
        "elderly_allowance",
        CASE,
        "call",
    )
    assert log.json()["next_cursor"] is None

    key = base64.b64decode(
        (await client.get("/exchange/v1/ledger/public-key")).json()["public_key"]
    )
    for item in items:
        receipt = item["receipt"]
        proof = (
            await client.get(
                f"/exchange/v1/ledger/entries/{receipt['seq']}/proof",
                params={"tree_size": receipt["tree_head"]["tree_size"]},
            )
        ).json()
        assert verify_receipt(receipt, proof, key).valid
        assert receipt["entry"]["call_id"] == item["call_id"]


async def test_the_log_pages_with_a_cursor_newest_first(
    client: httpx.AsyncClient,
    identity_svc: Headers,
    demo_consent: ConsentGiver,
    demo_citizen_token: Headers,
) -> None:
    await demo_consent(
        consumer="330302-civil_affairs", fields=["name"], purpose="statistics", case_id=CASE
    )
    call_ids = []
    for _ in range(5):
        response = await client.post(
            "/exchange/v1/calls",
            json=call_body(fields=["registered_region"], purpose="face_verification"),
            headers=identity_svc,
        )
        call_ids.append(response.json()["call_id"])
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get(
                "/exchange/v1/me/access-log", params=params, headers=demo_citizen_token
            )
        ).json()
        seen += [item["call_id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(call_ids))
    assert pages == 3


@pytest.mark.parametrize(
    ("token", "params", "status", "code"),
    [
        ({"sub": "account-new", "loa": 2, "region": "330302026003"}, {}, 404, "subject_not_linked"),
        ({"sub": "account-demo", "loa": 1}, {}, 403, "insufficient_assurance"),
        (
            {"sub": "system-1", "typ": "department_system", "dept": "330302-x"},
            {},
            403,
            "wrong_principal_type",
        ),
        ({"sub": "account-demo", "loa": 2}, {"cursor": "abc"}, 400, "invalid_cursor"),
        (
            {"sub": "account-demo", "loa": 2},
            {"cursor": "9223372036854775808"},
            400,
            "invalid_cursor",
        ),
        ({"sub": "account-demo", "loa": 2}, {"limit": 0}, 422, "validation_failed"),
    ],
    ids=["unlinked", "loa-1", "department", "bad-cursor", "overflowing-cursor", "bad-limit"],
)
async def test_the_log_is_refused_with_a_stable_code(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    demo_consent: ConsentGiver,
    problem: Problem,
    token: dict[str, Any],
    params: dict[str, Any],
    status: int,
    code: str,
) -> None:
    await demo_consent(
        consumer="330302-civil_affairs", fields=["name"], purpose="statistics", case_id=CASE
    )
    headers = bearer(token_minter.mint(**token))
    response = await client.get("/exchange/v1/me/access-log", params=params, headers=headers)
    problem(response, status, code)


async def test_a_department_cannot_write_text_into_a_citizens_access_log(
    client: httpx.AsyncClient,
    department: tuple[str, Headers],
    demo_consent: ConsentGiver,
    demo_citizen_token: Headers,
    problem: Problem,
) -> None:
    department_id, staff = department
    await demo_consent(
        consumer=department_id, fields=["name"], purpose="elderly_allowance", case_id=CASE
    )
    phishing = call_body(case_id="请致电4000000000领取补贴")
    problem(
        await client.post("/exchange/v1/calls", json=phishing, headers=staff),
        422,
        "validation_failed",
    )
    # A well-formed number she never consented to: the refusal is recorded without it.
    invented = call_body(case_id="330302-20261126-999999")
    problem(
        await client.post("/exchange/v1/calls", json=invented, headers=staff),
        403,
        "consent_required",
    )
    log = (await client.get("/exchange/v1/me/access-log", headers=demo_citizen_token)).json()
    assert "4000000000" not in json.dumps(log)
    newest = log["items"][0]
    assert (newest["code"], newest["case_id"]) == ("consent_required", None)
