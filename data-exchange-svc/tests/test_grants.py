"""The grant workflow: deny by default; a department applies, the provider approves (with an
expiry) or refuses, and a grant can be revoked. Only approved, unexpired, unrevoked grants let
data through."""

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from servicekit.db import utcnow
from servicekit.testing import TokenMinter, bearer

Headers = dict[str, str]
ConsentGiver = Callable[..., Awaitable[str]]
Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

CALL: dict[str, Any] = {
    "resource": "population",
    "subject": {"id_number": "330302195203140248"},
    "fields": ["registered_region"],
    "purpose": "household_transfer",
    "case_id": "330302-20261126-000002",
}
APPLICATION = {
    "resource": "population",
    "fields": ["registered_region", "name"],
    "purposes": ["household_transfer"],
    "legal_basis": "户口登记条例 第十条",
}


class Parties:
    def __init__(self, minter: TokenMinter) -> None:
        self.department = f"330302-test_{secrets.token_hex(4)}"
        self.consumer_system = bearer(
            minter.mint("system-1", typ="department_system", loa=0, dept=self.department)
        )
        self.consumer_staff = bearer(minter.mint("clerk-1", typ="staff", dept=self.department))
        self.provider = bearer(minter.mint("officer-7", typ="staff", dept="330302-public_security"))
        self.other_provider_system = bearer(
            minter.mint("system-9", typ="department_system", loa=0, dept="3303-public_security")
        )
        self.stranger = bearer(minter.mint("clerk-2", typ="staff", dept="330302-civil_affairs"))
        self.citizen = bearer(minter.mint("citizen-1", typ="citizen", loa=2))


@pytest.fixture
def parties(token_minter: TokenMinter) -> Parties:
    return Parties(token_minter)


def in_days(days: float) -> str:
    return (utcnow() + dt.timedelta(days=days)).isoformat()


async def apply(client: httpx.AsyncClient, parties: Parties) -> str:
    response = await client.post(
        "/exchange/v1/grants", json=APPLICATION, headers=parties.consumer_system
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    grant_id: str = response.json()["id"]
    return grant_id


async def test_an_application_grants_nothing_until_the_provider_approves_it(
    client: httpx.AsyncClient, parties: Parties, problem: Problem, demo_consent: ConsentGiver
) -> None:
    grant_id = await apply(client, parties)
    await demo_consent(
        consumer=parties.department,
        fields=CALL["fields"],
        purpose=CALL["purpose"],
        case_id=CALL["case_id"],
    )
    call = await client.post("/exchange/v1/calls", json=CALL, headers=parties.consumer_system)
    problem(call, 403, "no_grant")

    approved = await client.post(
        f"/exchange/v1/grants/{grant_id}/approve",
        json={"expires_at": in_days(30)},
        headers=parties.provider,
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", "officer-7")
    call = await client.post("/exchange/v1/calls", json=CALL, headers=parties.consumer_system)
    assert call.status_code == 200, call.text
    assert call.json()["fields"] == {"registered_region": "330302026003"}
    seen = await client.get(f"/exchange/v1/grants/{grant_id}", headers=parties.consumer_staff)
    assert seen.json()["legal_basis"] == APPLICATION["legal_basis"]


async def test_a_refused_application_grants_nothing(
    client: httpx.AsyncClient, parties: Parties, problem: Problem
) -> None:
    grant_id = await apply(client, parties)
    refused = await client.post(
        f"/exchange/v1/grants/{grant_id}/refuse",
        json={"reason": "no legal basis for this purpose"},
        headers=parties.provider,
    )
    assert refused.json()["status"] == "refused"
    call = await client.post("/exchange/v1/calls", json=CALL, headers=parties.consumer_system)
    problem(call, 403, "no_grant")


@pytest.mark.parametrize("revoker", ["provider", "consumer_staff"])
async def test_a_revoked_grant_stops_calls_at_once(
    client: httpx.AsyncClient, parties: Parties, problem: Problem, revoker: str
) -> None:
    grant_id = await apply(client, parties)
    await client.post(
        f"/exchange/v1/grants/{grant_id}/approve",
        json={"expires_at": in_days(30)},
        headers=parties.provider,
    )
    revoked = await client.post(
        f"/exchange/v1/grants/{grant_id}/revoke",
        json={"reason": "purpose fulfilled"},
        headers=getattr(parties, revoker),
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    call = await client.post("/exchange/v1/calls", json=CALL, headers=parties.consumer_system)
    problem(call, 403, "no_grant")


@pytest.mark.parametrize(
    ("expires_at", "code"),
    [
        (lambda: in_days(-1), "invalid_expiry"),
        (lambda: in_days(400), "invalid_expiry"),
        (lambda: "2030-01-01T00:00:00", "invalid_expiry"),
        (lambda: None, "validation_failed"),
    ],
    ids=["past", "beyond-a-year", "naive", "missing"],
)
async def test_every_approval_expires_within_a_year(
    client: httpx.AsyncClient, parties: Parties, problem: Problem, expires_at: Any, code: str
) -> None:
    grant_id = await apply(client, parties)
    response = await client.post(
        f"/exchange/v1/grants/{grant_id}/approve",
        json={"expires_at": expires_at()},
        headers=parties.provider,
    )
    problem(response, 422, code)


@pytest.mark.parametrize(
    ("decider", "status", "code"),
    [
        ("consumer_staff", 403, "not_the_provider"),
        ("consumer_system", 403, "not_the_provider"),
        ("other_provider_system", 404, "grant_not_found"),
        ("stranger", 404, "grant_not_found"),
        ("citizen", 404, "grant_not_found"),
    ],
)
async def test_only_staff_of_the_provider_decide(
    client: httpx.AsyncClient,
    parties: Parties,
    problem: Problem,
    decider: str,
    status: int,
    code: str,
) -> None:
    grant_id = await apply(client, parties)
    response = await client.post(
        f"/exchange/v1/grants/{grant_id}/approve",
        json={"expires_at": in_days(30)},
        headers=getattr(parties, decider),
    )
    problem(response, status, code)


async def test_a_decision_is_final_and_only_approved_grants_are_revoked(
    client: httpx.AsyncClient, parties: Parties, problem: Problem
) -> None:
    grant_id = await apply(client, parties)
    path = f"/exchange/v1/grants/{grant_id}"
    revoke = {"json": {"reason": "x"}, "headers": parties.provider}
    problem(await client.post(f"{path}/revoke", **revoke), 409, "grant_not_approved")
    await client.post(f"{path}/refuse", json={"reason": "no"}, headers=parties.provider)
    again = await client.post(
        f"{path}/approve", json={"expires_at": in_days(30)}, headers=parties.provider
    )
    problem(again, 409, "grant_not_pending")
    problem(await client.get(path, headers=parties.stranger), 404, "grant_not_found")


@pytest.mark.parametrize(
    ("who", "changes", "status", "code"),
    [
        ("citizen", {}, 403, "wrong_principal_type"),
        ("provider", {"resource": "tax_records"}, 404, "resource_not_found"),
        ("consumer_staff", {"fields": ["shoe_size"]}, 422, "unknown_field"),
        ("consumer_staff", {"legal_basis": ""}, 422, "validation_failed"),
        ("consumer_staff", {"purposes": ["Not A Purpose"]}, 422, "validation_failed"),
    ],
)
async def test_bad_applications_are_refused(
    client: httpx.AsyncClient,
    parties: Parties,
    problem: Problem,
    who: str,
    changes: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = await client.post(
        "/exchange/v1/grants", json={**APPLICATION, **changes}, headers=getattr(parties, who)
    )
    problem(response, status, code)


async def test_an_application_retried_with_its_key_is_one_application(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    keyed = {**parties.consumer_system, "Idempotency-Key": secrets.token_hex(16)}

    first = await client.post("/exchange/v1/grants", json=APPLICATION, headers=keyed)
    retry = await client.post("/exchange/v1/grants", json=APPLICATION, headers=keyed)
    unkeyed = await client.post(
        "/exchange/v1/grants", json=APPLICATION, headers=parties.consumer_system
    )

    assert first.status_code == retry.status_code == unkeyed.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotency-replayed"] == "true"
    assert first.headers["location"] == f"/exchange/v1/grants/{first.json()['id']}"
    assert unkeyed.json()["id"] != first.json()["id"]
