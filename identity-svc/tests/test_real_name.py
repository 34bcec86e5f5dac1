"""Real-name verification: the ID number checked locally, the name matched against the
population registry through data-exchange-svc, the account raised to level 2 with its
registered residence, one account per ID number, and bounded attempts."""

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


async def test_a_matching_name_and_id_number_raise_the_account_to_level_2(
    client: httpx.AsyncClient, journey: Journey, people: People, contracts: ContractDouble
) -> None:
    tokens = await journey.signed_in()
    response = await journey.real_name(tokens["access_token"], people.lin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["loa"] == 2
    assert body["region"] == "330302026003"
    assert body["name_masked"] == "林*英"
    assert body["id_number_masked"] == "3303**********0248"
    assert body["token_type"] == "Bearer"
    claims = await journey.claims(body["access_token"])
    assert (claims["loa"], claims["region"]) == (2, "330302026003")

    [match] = contracts.asks("/exchange/v1/matches")
    assert match == {
        "resource": "population",
        "subject": {"id_number": "330302195203140248"},
        "claims": {"name": "林秀英"},
        "purpose": "real_name_verification",
    }
    [call] = contracts.asks("/exchange/v1/calls")
    assert call["fields"] == ["registered_region"]
    # The exchange learns which registry subject the account is from identity-svc, not from her.
    assert contracts.links == {claims["sub"]: "330302195203140248"}

    me = (await client.get("/identity/v1/me", headers=bearer(body["access_token"]))).json()
    assert me["loa"] == 2
    assert me["real_name"] == {
        "name_masked": "林*英",
        "id_number_masked": "3303**********0248",
        "region": "330302026003",
        "birth_date": "1952-03-14",
        "sex": "female",
    }
    # The refresh token of the old session now yields level 2 as well.
    refreshed = (await journey.refresh(tokens["refresh_token"])).json()
    assert (await journey.claims(refreshed["access_token"]))["loa"] == 2


async def test_the_name_and_id_number_are_sealed_at_rest(
    app: FastAPI, journey: Journey, people: People
) -> None:
    await journey.real_named(people.lin)
    async with app.state.service.database.sessionmaker() as session:
        account = (await session.scalars(select(Account))).one()
    assert account.name_sealed is not None
    assert account.id_number_sealed is not None
    assert "林秀英".encode() not in account.name_sealed
    assert b"330302195203140248" not in account.id_number_sealed
    assert account.id_number_hash is not None
    assert len(account.id_number_hash) == 64


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


async def test_an_id_number_bound_to_another_account_is_refused(
    journey: Journey, people: People, problem: Problem
) -> None:
    await journey.real_named(people.lin)
    second = await journey.signed_in()
    response = await journey.real_name(second["access_token"], people.lin)
    problem(response, 409, "id_number_already_bound")


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
    contracts.granted_fields["real_name_verification"] = set()
    tokens = await journey.signed_in()
    response = await journey.real_name(tokens["access_token"], people.lin)
    body = problem(response, 503, "upstream_unavailable")
    assert body["upstream_code"] == "field_not_granted"
    me = (await client.get("/identity/v1/me", headers=bearer(tokens["access_token"]))).json()
    assert me["loa"] == 1


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
