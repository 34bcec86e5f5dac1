"""Real-name verification: the ID number checked locally, the name matched against the
population registry through data-exchange-svc, the match recorded as the account's claim (sealed)
with the face match named as the step that binds it, and bounded attempts. What the claim earns
and how it is bound: ``test_binding``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from identity_svc.models import Account, RealNameAttempt
from identity_svc.settings import IdentitySettings
from servicekit.regions import RegionCode
from servicekit.resident_id import check_character, make_resident_id
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import ContractDouble, Journey, MovableClock, People

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

LUCHENG = RegionCode.parse("330302")


def _with_check(first17: str) -> str:
    return first17 + check_character(first17)


def _ending_in_x() -> str:
    for sequence in range(1000):
        number = make_resident_id(LUCHENG, dt.date(1975, 7, 7), sequence)
        if number.endswith("X"):
            return number
    raise AssertionError("no sequence gives an X")


BAD_ID_NUMBERS = [
    pytest.param("330302195203140249", "check_character_mismatch", id="check character"),
    pytest.param(_with_check("33030219900230123"), "invalid_birth_date", id="30 February"),
    pytest.param(
        make_resident_id(LUCHENG, dt.date(2099, 1, 1), 12), "birth_date_in_future", id="future"
    ),
    pytest.param(
        make_resident_id(RegionCode.parse("330399"), dt.date(1980, 1, 1), 11),
        "unknown_region",
        id="unknown region",
    ),
    pytest.param(_with_check("00030219800101011"), "unknown_region", id="not a region code"),
    pytest.param("33030219520314024", "wrong_length", id="17 characters"),
    pytest.param("3303021952031402488", "wrong_length", id="19 characters"),
    pytest.param("33030219520314 248", "invalid_characters", id="stray space"),
    pytest.param("3303021952O3140248", "invalid_characters", id="letter O for zero"),
    pytest.param(_ending_in_x().lower(), "invalid_characters", id="lower-case x"),
]


async def test_a_matching_name_and_id_number_are_claimed_and_the_face_match_is_the_next_step(
    client: httpx.AsyncClient, journey: Journey, people: People, contracts: ContractDouble
) -> None:
    tokens = await journey.signed_in()
    response = await journey.real_name(tokens["access_token"], people.lin)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "loa": 1,
        "next_step": "face",
        "name_masked": "林*英",
        "id_number_masked": "3303**********0248",
    }

    [match] = contracts.asks("/exchange/v1/matches")
    assert match == {
        "resource": "population",
        "subject": {"id_number": "330302195203140248"},
        "claims": {"name": "林秀英"},
        "purpose": "real_name_verification",
    }
    # Verify without sharing, and nothing more: nothing read, no link to the registry subject.
    assert contracts.asks("/exchange/v1/calls") == []
    assert contracts.links == {}

    me = (await client.get("/identity/v1/me", headers=bearer(tokens["access_token"]))).json()
    assert (me["loa"], me["real_name"]) == (1, None)
    refreshed = (await journey.refresh(tokens["refresh_token"])).json()
    claims = await journey.claims(refreshed["access_token"])
    assert claims["loa"] == 1
    assert "region" not in claims


async def test_the_claim_is_sealed_at_rest_and_moves_to_the_real_name_when_bound(
    app: FastAPI, journey: Journey, people: People
) -> None:
    tokens = await journey.claimed(people.lin)
    async with app.state.service.database.sessionmaker() as session:
        account = (await session.scalars(select(Account))).one()
    assert account.claimed_name_sealed is not None
    assert account.claimed_id_number_sealed is not None
    assert "林秀英".encode() not in account.claimed_name_sealed
    assert b"330302195203140248" not in account.claimed_id_number_sealed
    assert (account.id_number_sealed, account.id_number_hash, account.loa) == (None, None, 1)

    assert (await journey.face_matched(tokens["access_token"], people.lin)).status_code == 200
    async with app.state.service.database.sessionmaker() as session:
        account = (await session.scalars(select(Account))).one()
    assert (account.claimed_name_sealed, account.claimed_id_number_sealed) == (None, None)
    assert account.name_sealed is not None
    assert account.id_number_sealed is not None
    assert b"330302195203140248" not in account.id_number_sealed
    assert account.id_number_hash is not None
    assert len(account.id_number_hash) == 64
    assert (account.loa, account.region_code, account.sex) == (2, "330302026003", "female")


async def test_a_newer_claim_replaces_the_older_one(
    client: httpx.AsyncClient, journey: Journey, people: People
) -> None:
    tokens = await journey.claimed(people.wang)
    assert (await journey.real_name(tokens["access_token"], people.lin)).status_code == 200
    assert (await journey.face_matched(tokens["access_token"], people.lin)).status_code == 200
    me = (await client.get("/identity/v1/me", headers=bearer(tokens["access_token"]))).json()
    assert me["real_name"]["id_number_masked"] == "3303**********0248"


@pytest.mark.parametrize(("id_number", "reason"), BAD_ID_NUMBERS)
async def test_an_invalid_id_number_is_refused_with_its_reason_before_asking_the_registry(
    journey: Journey,
    contracts: ContractDouble,
    problem: Problem,
    id_number: str,
    reason: str,
) -> None:
    tokens = await journey.signed_in()
    response = await journey.client.post(
        "/identity/v1/me/real-name",
        json={"name": "林秀英", "id_number": id_number},
        headers=bearer(tokens["access_token"]),
    )
    assert problem(response, 422, "invalid_id_number")["reason"] == reason
    assert id_number not in response.text
    assert contracts.exchange_requests == []


async def test_a_name_the_registry_does_not_match_is_refused_and_the_account_stays_at_level_1(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    tokens = await journey.signed_in()
    response = await client.post(
        "/identity/v1/me/real-name",
        json={"name": "林秀华", "id_number": people.lin.id_number},
        headers=bearer(tokens["access_token"]),
    )
    body = problem(response, 422, "real_name_mismatch")
    assert body["attempts_left"] == identity_settings.real_name_max_attempts - 1
    me = (await client.get("/identity/v1/me", headers=bearer(tokens["access_token"]))).json()
    assert (me["loa"], me["real_name"]) == (1, None)


async def test_a_verified_account_cannot_verify_again(
    journey: Journey, people: People, problem: Problem
) -> None:
    verified = await journey.real_named(people.lin)
    response = await journey.real_name(verified["access_token"], people.wang)
    problem(response, 409, "real_name_already_verified")


async def test_attempts_are_bounded_per_hour(
    app: FastAPI,
    journey: Journey,
    people: People,
    clock: MovableClock,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    tokens = await journey.signed_in()
    wrong = {"name": "无此人", "id_number": people.lin.id_number}
    for left in reversed(range(identity_settings.real_name_max_attempts)):
        response = await journey.client.post(
            "/identity/v1/me/real-name", json=wrong, headers=bearer(tokens["access_token"])
        )
        assert problem(response, 422, "real_name_mismatch")["attempts_left"] == left
    refused = await journey.real_name(tokens["access_token"], people.lin)
    assert problem(refused, 429, "too_many_attempts")["retry_at"]
    assert int(refused.headers["retry-after"]) > 0
    async with app.state.service.database.sessionmaker() as session:
        outcomes = (await session.scalars(select(RealNameAttempt.outcome))).all()
    assert outcomes == ["mismatch"] * identity_settings.real_name_max_attempts

    clock.advance(identity_settings.real_name_attempt_window_seconds)
    assert (await journey.real_name(tokens["access_token"], people.lin)).status_code == 200


async def test_catalogs_answers_about_regions_are_kept_in_process(
    journey: Journey, people: People, contracts: ContractDouble
) -> None:
    await journey.real_named(people.lin)
    await journey.real_named(people.wang)  # the same county, 330302
    assert contracts.region_lookups == ["330302"]


async def test_a_refusal_by_the_exchange_is_an_upstream_failure_and_changes_nothing(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    contracts: ContractDouble,
    problem: Problem,
) -> None:
    contracts.granted_fields["face_verification"] = {"face_template"}
    tokens = await journey.claimed(people.lin)
    response = await journey.face_matched(tokens["access_token"], people.lin)
    body = problem(response, 503, "upstream_unavailable")
    assert body["upstream_code"] == "field_not_granted"
    me = (await client.get("/identity/v1/me", headers=bearer(tokens["access_token"]))).json()
    assert (me["loa"], me["real_name"]) == (1, None)
    assert contracts.links == {}


async def test_the_gateway_unreachable_is_a_503(
    app: FastAPI, journey: Journey, people: People, problem: Problem
) -> None:
    tokens = await journey.signed_in()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    await app.state.service.http.aclose()
    app.state.service.http = httpx.AsyncClient(
        transport=httpx.MockTransport(refuse), base_url="http://gateway"
    )
    response = await journey.real_name(tokens["access_token"], people.lin)
    problem(response, 503, "upstream_unavailable")
