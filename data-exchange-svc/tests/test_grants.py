"""The grant workflow: deny by default; a department applies, a data steward of the provider
approves (with an expiry, a rate and a region) or refuses, and a grant can be revoked. Only
approved, unexpired, unrevoked grants let data through, and only about their region's
subjects."""

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
    "rate_limit": {"per_minute": 600},
}


class Parties:
    def __init__(self, minter: TokenMinter) -> None:
        self.department = f"330302-test_{secrets.token_hex(4)}"
        self.consumer_system = bearer(
            minter.mint("system-1", typ="department_system", loa=0, dept=self.department)
        )
        self.consumer_staff = bearer(minter.mint("clerk-1", typ="staff", dept=self.department))
        self.provider = bearer(
            minter.mint(
                "officer-7", typ="staff", dept="330302-public_security", roles=["data_steward"]
            )
        )
        self.provider_handler = bearer(
            minter.mint("officer-8", typ="staff", dept="330302-public_security", roles=["handler"])
        )
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


async def test_only_a_steward_over_the_applicants_region_refuses_its_application(
    client: httpx.AsyncClient, parties: Parties, token_minter: TokenMinter, problem: Problem
) -> None:
    grant_id = await apply(client, parties)  # a Lucheng department's application
    longwan = bearer(
        token_minter.mint(
            "officer-3", typ="staff", dept="330303-public_security", roles=["data_steward"]
        )
    )
    wenzhou = bearer(
        token_minter.mint(
            "officer-4", typ="staff", dept="330300-public_security", roles=["data_steward"]
        )
    )
    path = f"/exchange/v1/grants/{grant_id}/refuse"

    body = problem(
        await client.post(path, json={"reason": "not ours to give"}, headers=longwan),
        403,
        "outside_jurisdiction",
    )
    refused = await client.post(path, json={"reason": "no legal basis"}, headers=wenzhou)

    assert body["department"] == "330303-public_security"
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused"


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
        ("consumer_system", 403, "wrong_principal_type"),
        ("provider_handler", 403, "not_the_provider"),
        ("other_provider_system", 403, "wrong_principal_type"),
        ("stranger", 404, "grant_not_found"),
        ("citizen", 403, "wrong_principal_type"),
    ],
)
async def test_only_a_data_steward_of_the_provider_decides(
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
        ("consumer_staff", {"purposes": ["anything"]}, 422, "unknown_purpose"),
        ("consumer_staff", {"purposes": ["face_verification"]}, 403, "purpose_reserved"),
        ("consumer_staff", {"fields": ["name", "face_template"]}, 403, "field_reserved"),
        ("consumer_staff", {"rate_limit": None}, 422, "rate_limit_required"),
    ],
    ids=[
        "citizen",
        "unknown-resource",
        "unknown-field",
        "no-legal-basis",
        "malformed-purpose",
        "purpose-off-the-list",
        "platform-purpose",
        "face-template",
        "no-rate-limit",
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


def steward(minter: TokenMinter, dept: str, sub: str | None = None) -> Headers:
    return bearer(
        minter.mint(
            sub or f"steward-{secrets.token_hex(4)}", typ="staff", dept=dept, roles=["data_steward"]
        )
    )


async def test_nobody_decides_on_their_own_application(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    county_steward = steward(token_minter, "330302-public_security")
    applied = await client.post("/exchange/v1/grants", json=APPLICATION, headers=county_steward)
    assert applied.status_code == 201, applied.text
    path = f"/exchange/v1/grants/{applied.json()['id']}"
    decision = {"expires_at": in_days(30)}
    problem(
        await client.post(f"{path}/approve", json=decision, headers=county_steward),
        403,
        "own_application",
    )
    other = steward(token_minter, "330302-public_security")
    assert (await client.post(f"{path}/approve", json=decision, headers=other)).status_code == 200


async def match(
    client: httpx.AsyncClient, headers: Headers, id_number: str, name: str
) -> httpx.Response:
    return await client.post(
        "/exchange/v1/matches",
        json={
            "resource": "population",
            "subject": {"id_number": id_number},
            "claims": {"name": name},
            "purpose": "household_transfer",
        },
        headers=headers,
    )


async def test_a_county_steward_grants_only_the_subjects_of_their_county(
    client: httpx.AsyncClient,
    parties: Parties,
    problem: Problem,
    population: list[Any],
) -> None:
    grant_id = await apply(client, parties)
    path = f"/exchange/v1/grants/{grant_id}"
    province_wide = {"expires_at": in_days(30), "region": "33"}
    problem(
        await client.post(f"{path}/approve", json=province_wide, headers=parties.provider),
        403,
        "outside_jurisdiction",
    )
    problem(
        await client.post(
            f"{path}/approve",
            json={"expires_at": in_days(30), "region": "3301x"},
            headers=parties.provider,
        ),
        422,
        "invalid_region_code",
    )
    approved = await client.post(
        f"{path}/approve", json={"expires_at": in_days(30)}, headers=parties.provider
    )
    assert approved.json()["region"] == "330302", approved.text
    lucheng = next(p for p in population if p.registered_region.startswith("330302"))
    hangzhou = next(p for p in population if p.registered_region.startswith("3301"))
    seen = await match(client, parties.consumer_system, lucheng.id_number, lucheng.name)
    assert seen.json()["match"] is True, seen.text
    # A Hangzhou resident is, to a Lucheng grant, nobody the registry holds.
    unseen = await match(client, parties.consumer_system, hangzhou.id_number, hangzhou.name)
    assert unseen.json()["match"] is False, unseen.text


async def test_a_resource_its_records_do_not_place_is_granted_by_the_province_only(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    consumer = bearer(
        token_minter.mint(
            "system-2", typ="department_system", loa=0, dept=f"330302-test_{secrets.token_hex(4)}"
        )
    )
    application = {
        "resource": "motor_vehicle",
        "fields": ["plate_number"],
        "purposes": ["service_delivery"],
        "legal_basis": "道路交通安全法 第八条",
        "rate_limit": {"per_minute": 60},
    }
    applied = await client.post("/exchange/v1/grants", json=application, headers=consumer)
    path = f"/exchange/v1/grants/{applied.json()['id']}"
    decision = {"expires_at": in_days(30)}
    county = steward(token_minter, "330302-traffic_police")
    problem(
        await client.post(f"{path}/approve", json=decision, headers=county),
        403,
        "outside_jurisdiction",
    )
    province = steward(token_minter, "330000-traffic_police")
    approved = await client.post(f"{path}/approve", json=decision, headers=province)
    assert approved.json()["region"] == "33", approved.text


async def test_an_approval_cannot_drop_the_rate_limit(
    client: httpx.AsyncClient, parties: Parties, problem: Problem
) -> None:
    grant_id = await apply(client, parties)
    problem(
        await client.post(
            f"/exchange/v1/grants/{grant_id}/approve",
            json={"expires_at": in_days(30), "rate_limit": None},
            headers=parties.provider,
        ),
        422,
        "rate_limit_required",
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/exchange/v1/grants"),
        ("POST", "/exchange/v1/grants/01a24e30-22b4-74da-a6e8-8c37fdffdb37/approve"),
        ("POST", "/exchange/v1/resources/population/records"),
        ("POST", "/exchange/v1/calls"),
        ("POST", "/exchange/v1/matches"),
    ],
)
async def test_a_citizen_on_a_department_route_learns_403_not_the_fields_it_takes(
    client: httpx.AsyncClient, parties: Parties, problem: Problem, method: str, path: str
) -> None:
    response = await client.request(method, path, json={}, headers=parties.citizen)
    body = problem(response, 403, "wrong_principal_type")
    assert "errors" not in body
