"""Enterprises: the citizen the market-regulation registry names legal representative claims
the enterprise, authorises employees and ends their authorisation; each exchanges their own
token for a short one acting for the enterprise; a change at the registry takes effect at once."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from identity_svc.models import EnterpriseMember
from servicekit.credit_code import check_character
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Business, ContractDouble, Journey, MovableClock, People, Person

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


@dataclass
class Citizen:
    phone: str
    tokens: dict[str, Any]

    @property
    def access_token(self) -> str:
        token: str = self.tokens["access_token"]
        return token


async def real_named(journey: Journey, person: Person) -> Citizen:
    phone = await journey.register()
    signed_in = (await journey.login(phone)).json()
    return Citizen(phone, await journey.bound(signed_in["access_token"], person))


async def signed_in(journey: Journey) -> Citizen:
    phone = await journey.register()
    return Citizen(phone, (await journey.login(phone)).json())


async def claim(client: httpx.AsyncClient, citizen: Citizen, credit_code: str) -> httpx.Response:
    return await client.post(
        "/identity/v1/enterprises",
        json={"credit_code": credit_code},
        headers=bearer(citizen.access_token),
    )


async def exchange(client: httpx.AsyncClient, citizen: Citizen, credit_code: str) -> httpx.Response:
    return await client.post(
        "/identity/v1/token",
        data={
            "grant_type": EXCHANGE,
            "subject": credit_code,
            "actor_token": citizen.access_token,
        },
    )


def in_days(clock: MovableClock, days: float) -> str:
    return (clock() + dt.timedelta(days=days)).isoformat()


async def standings(app: FastAPI, journey: Journey, citizen: Citizen) -> int:
    """How many memberships the citizen's account has ever had, of any enterprise."""
    account_id = uuid.UUID((await journey.claims(citizen.access_token))["sub"])
    async with app.state.service.database.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(EnterpriseMember.account_id == account_id)
        )
    return count or 0


async def test_the_registered_legal_representative_claims_the_enterprise_and_acts_for_it(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    business: Business,
    contracts: ContractDouble,
) -> None:
    wang = await real_named(journey, people.wang)
    claimed = await claim(client, wang, business.credit_code)
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["role"] == "legal_representative"
    assert claimed.json()["enterprise"] == {
        "credit_code": business.credit_code,
        "name": business.name,
        "registered_region": business.registered_region,
        "registration_status": "active",
    }
    mine = await client.get("/identity/v1/me/enterprises", headers=bearer(wang.access_token))
    assert [m["enterprise"]["credit_code"] for m in mine.json()["items"]] == [business.credit_code]

    # The registry was asked a yes/no question about his own number, and read nothing personal.
    asked = contracts.asks("/exchange/v1/matches")[-1]
    assert asked["subject"] == {"credit_code": business.credit_code}
    assert asked["claims"] == {"legal_representative_id_number": people.wang.id_number}
    read = contracts.asks("/exchange/v1/calls")[-1]
    assert set(read["fields"]) == {"enterprise_name", "registration_status", "registered_region"}

    exchanged = await exchange(client, wang, business.credit_code)
    assert exchanged.status_code == 200, exchanged.text
    body = exchanged.json()
    assert "refresh_token" not in body
    claims = await journey.claims(body["access_token"])
    wang_id = (await journey.claims(wang.access_token))["sub"]
    assert (claims["typ"], claims["sub"], claims["act"], claims["roles"], claims["region"]) == (
        "enterprise",
        business.credit_code,
        {"sub": wang_id},
        ["legal_representative"],
        business.registered_region,
    )
    assert claims["loa"] == 3  # his: the face match that bound his real name holds a while


async def test_a_claim_retried_with_its_idempotency_key_answers_again_without_asking_the_registry(
    app: FastAPI,
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    business: Business,
    contracts: ContractDouble,
) -> None:
    wang = await real_named(journey, people.wang)
    headers = {**bearer(wang.access_token), "Idempotency-Key": "claim-songtai-stationery-01"}
    body = {"credit_code": business.credit_code}
    first = await client.post("/identity/v1/enterprises", json=body, headers=headers)
    assert first.status_code == 201, first.text
    asked = len(contracts.asks("/exchange/v1/matches"))

    again = await client.post("/identity/v1/enterprises", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(contracts.asks("/exchange/v1/matches")) == asked
    assert await standings(app, journey, wang) == 1


async def test_a_citizen_the_registry_does_not_name_is_refused_and_nothing_is_kept(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    business: Business,
    problem: Problem,
) -> None:
    chen = await real_named(journey, people.chen)
    problem(await claim(client, chen, business.credit_code), 403, "not_legal_representative")
    mine = await client.get("/identity/v1/me/enterprises", headers=bearer(chen.access_token))
    assert mine.json()["items"] == []
    problem(await exchange(client, chen, business.credit_code), 400, "not_enterprise_member")


async def test_claiming_an_enterprise_needs_a_verified_real_name(
    client: httpx.AsyncClient, journey: Journey, business: Business, problem: Problem
) -> None:
    citizen = await signed_in(journey)
    body = problem(
        await claim(client, citizen, business.credit_code), 403, "insufficient_assurance"
    )
    assert (body["required_loa"], body["step"]) == (2, "real_name")


def _with_wrong_check(code: str) -> str:
    wrong = "0" if code[17] != "0" else "1"
    return code[:17] + wrong


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda code: code[:17], "wrong_length"),
        (lambda code: code[:8] + "IOSVZ" + code[13:], "invalid_characters"),
        (lambda code: code.lower(), "invalid_characters"),
        (_with_wrong_check, "check_character_mismatch"),
        (
            lambda code: "91999999" + code[8:17] + check_character("91999999" + code[8:17]),
            "unknown_region",
        ),
    ],
)
async def test_a_malformed_credit_code_is_refused_with_its_reason(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    business: Business,
    problem: Problem,
    make: Callable[[str], str],
    reason: str,
) -> None:
    wang = await real_named(journey, people.wang)
    body = problem(
        await claim(client, wang, make(business.credit_code)), 422, "invalid_credit_code"
    )
    assert body["reason"] == reason


async def test_a_deregistered_enterprise_cannot_be_claimed(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    business: Business,
    problem: Problem,
) -> None:
    business.registration_status = "deregistered"
    wang = await real_named(journey, people.wang)
    body = problem(await claim(client, wang, business.credit_code), 409, "enterprise_not_active")
    assert body["registration_status"] == "deregistered"


async def test_an_authorised_employee_acts_for_the_enterprise_until_the_representative_ends_it(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    business: Business,
    clock: MovableClock,
    problem: Problem,
) -> None:
    wang = await real_named(journey, people.wang)
    assert (await claim(client, wang, business.credit_code)).status_code == 201
    clerk = await signed_in(journey)
    agents = f"/identity/v1/enterprises/{business.credit_code}/agents"
    authorised = await client.post(
        agents,
        json={"agent_phone": clerk.phone, "valid_until": in_days(clock, 30)},
        headers=bearer(wang.access_token),
    )
    assert authorised.status_code == 201, authorised.text
    assert authorised.json()["role"] == "agent"
    again = await client.post(
        agents,
        json={"agent_phone": clerk.phone, "valid_until": in_days(clock, 30)},
        headers=bearer(wang.access_token),
    )
    problem(again, 409, "agent_exists")

    token = await exchange(client, clerk, business.credit_code)
    assert token.status_code == 200, token.text
    claims = await journey.claims(token.json()["access_token"])
    assert (claims["sub"], claims["roles"], claims["loa"]) == (business.credit_code, ["agent"], 1)

    # An employee authorises nobody.
    other = await signed_in(journey)
    refused = await client.post(
        agents,
        json={"agent_phone": other.phone, "valid_until": in_days(clock, 30)},
        headers=bearer(clerk.access_token),
    )
    problem(refused, 403, "representative_required")
    members_path = f"/identity/v1/enterprises/{business.credit_code}/members"
    listed = (await client.get(members_path, headers=bearer(wang.access_token))).json()
    assert sorted(m["role"] for m in listed["items"]) == ["agent", "legal_representative"]
    assert all("*" in m["citizen"]["phone_masked"] for m in listed["items"])

    ended = await client.delete(
        f"{members_path}/{authorised.json()['id']}", headers=bearer(wang.access_token)
    )
    assert ended.status_code == 204
    problem(await exchange(client, clerk, business.credit_code), 400, "not_enterprise_member")


async def test_an_authorisation_retried_with_its_idempotency_key_answers_the_one_it_made(
    app: FastAPI,
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    business: Business,
    clock: MovableClock,
) -> None:
    wang = await real_named(journey, people.wang)
    assert (await claim(client, wang, business.credit_code)).status_code == 201
    clerk = await signed_in(journey)
    agents = f"/identity/v1/enterprises/{business.credit_code}/agents"
    body = {"agent_phone": clerk.phone, "valid_until": in_days(clock, 30)}
    headers = {**bearer(wang.access_token), "Idempotency-Key": "authorise-clerk-0001"}
    first = await client.post(agents, json=body, headers=headers)
    assert first.status_code == 201, first.text

    # Without the key, the same request would be agent_exists (409).
    again = await client.post(agents, json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    assert await standings(app, journey, clerk) == 1


async def test_an_authorisation_runs_out_on_its_date(
    app: FastAPI,
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    business: Business,
    clock: MovableClock,
    problem: Problem,
) -> None:
    wang = await real_named(journey, people.wang)
    assert (await claim(client, wang, business.credit_code)).status_code == 201
    clerk = await signed_in(journey)
    authorised = await client.post(
        f"/identity/v1/enterprises/{business.credit_code}/agents",
        json={"agent_phone": clerk.phone, "valid_until": in_days(clock, 1)},
        headers=bearer(wang.access_token),
    )
    assert authorised.status_code == 201
    # The date passes (moved in the record: tokens are checked on the real clock).
    async with app.state.service.database.sessionmaker.begin() as session:
        record = await session.get(EnterpriseMember, uuid.UUID(authorised.json()["id"]))
        assert record is not None
        record.valid_until = clock() - dt.timedelta(seconds=1)
    problem(await exchange(client, clerk, business.credit_code), 400, "not_enterprise_member")
    listed = await client.get(
        f"/identity/v1/enterprises/{business.credit_code}/members",
        headers=bearer(wang.access_token),
    )
    statuses = {m["role"]: m["status"] for m in listed.json()["items"]}
    assert statuses == {"agent": "expired", "legal_representative": "active"}


async def test_a_new_representative_at_the_registry_ends_the_old_ones_standing_at_once(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    business: Business,
    problem: Problem,
) -> None:
    wang = await real_named(journey, people.wang)
    assert (await claim(client, wang, business.credit_code)).status_code == 201
    business.representative_id_number = people.chen.id_number

    problem(await exchange(client, wang, business.credit_code), 400, "representation_ended")
    mine = await client.get("/identity/v1/me/enterprises", headers=bearer(wang.access_token))
    assert mine.json()["items"] == []

    chen = await real_named(journey, people.chen)
    assert (await claim(client, chen, business.credit_code)).status_code == 201
    assert (await exchange(client, chen, business.credit_code)).status_code == 200


async def test_a_delegate_acting_for_someone_cannot_claim_an_enterprise_for_them(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    business: Business,
    clock: MovableClock,
    problem: Problem,
) -> None:
    wang = await real_named(journey, people.wang)
    helper = await signed_in(journey)
    delegation = await client.post(
        "/identity/v1/me/delegations",
        json={"delegate_phone": helper.phone, "valid_until": in_days(clock, 7)},
        headers=bearer(wang.access_token),
    )
    assert delegation.status_code == 201, delegation.text
    acting = await client.post(
        "/identity/v1/token",
        data={
            "grant_type": EXCHANGE,
            "subject": delegation.json()["id"],
            "actor_token": helper.access_token,
        },
    )
    assert acting.status_code == 200, acting.text
    as_wang = Citizen(helper.phone, acting.json())
    problem(await claim(client, as_wang, business.credit_code), 403, "delegated_token_refused")


async def test_employees_wait_for_the_new_representative_to_confirm_them(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    business: Business,
    clock: MovableClock,
    problem: Problem,
) -> None:
    wang = await real_named(journey, people.wang)
    assert (await claim(client, wang, business.credit_code)).status_code == 201
    clerk = await signed_in(journey)
    authorised = await client.post(
        f"/identity/v1/enterprises/{business.credit_code}/agents",
        json={"agent_phone": clerk.phone, "valid_until": in_days(clock, 300)},
        headers=bearer(wang.access_token),
    )
    assert authorised.status_code == 201, authorised.text
    assert (await exchange(client, clerk, business.credit_code)).status_code == 200

    # The registry names Chen: the clerk's authorisation was Wang's to give, and ends with him,
    # even before Chen claims the enterprise here.
    business.representative_id_number = people.chen.id_number
    problem(await exchange(client, clerk, business.credit_code), 400, "authorisation_unconfirmed")

    chen = await real_named(journey, people.chen)
    assert (await claim(client, chen, business.credit_code)).status_code == 201
    members_path = f"/identity/v1/enterprises/{business.credit_code}/members"
    listed = (await client.get(members_path, headers=bearer(chen.access_token))).json()
    agent = next(m for m in listed["items"] if m["role"] == "agent")
    assert agent["status"] == "awaiting_confirmation"
    problem(await exchange(client, clerk, business.credit_code), 400, "authorisation_unconfirmed")
    # Only the representative confirms; then the clerk acts again.
    problem(
        await client.post(
            f"{members_path}/{agent['id']}/confirmation", headers=bearer(clerk.access_token)
        ),
        403,
        "representative_required",
    )
    confirmed = await client.post(
        f"{members_path}/{agent['id']}/confirmation", headers=bearer(chen.access_token)
    )
    assert (confirmed.status_code, confirmed.json()["status"]) == (200, "active"), confirmed.text
    assert (await exchange(client, clerk, business.credit_code)).status_code == 200
