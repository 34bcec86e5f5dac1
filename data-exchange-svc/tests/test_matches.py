"""Matches: verify without sharing. The caller learns yes or no, and nothing else."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from data_exchange_svc.registry.dataset import PersonRow
from servicekit.regions import RegionCode
from servicekit.resident_id import make_resident_id
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]

DEMO_ID = "330302195203140248"
#: Well formed, and held by nobody in the registry (checked below).
NOBODY_ID = make_resident_id(RegionCode.parse("330302"), dt.date(1990, 1, 1), 997)


def match_body(id_number: str, claims: dict[str, str], **overrides: Any) -> dict[str, Any]:
    return {
        "resource": "population",
        "subject": {"id_number": id_number},
        "claims": claims,
        "purpose": "real_name_verification",
        **overrides,
    }


@pytest.mark.parametrize(
    ("id_number", "claims", "expected"),
    [
        (DEMO_ID, {"name": "林秀英"}, True),
        (DEMO_ID, {"name": " 林秀英\t"}, True),
        (DEMO_ID, {"name": "林秀"}, False),
        (DEMO_ID, {"name": "林 秀英"}, False),
        (DEMO_ID, {"name": "林秀英", "sex": "female", "birth_date": "1952-03-14"}, True),
        (DEMO_ID, {"name": "林秀英", "birth_date": "1952-03-15"}, False),
        (NOBODY_ID, {"name": "林秀英"}, False),
    ],
    ids=[
        "exact",
        "trimmed",
        "prefix",
        "inner-space",
        "several-claims",
        "one-claim-wrong",
        "unknown-subject",
    ],
)
async def test_a_match_answers_only_whether_every_claim_holds(
    client: httpx.AsyncClient,
    identity_svc: Headers,
    population: list[PersonRow],
    id_number: str,
    claims: dict[str, str],
    expected: bool,
) -> None:
    assert NOBODY_ID not in {person.id_number for person in population}
    response = await client.post(
        "/exchange/v1/matches", json=match_body(id_number, claims), headers=identity_svc
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"match", "call_id", "receipt"}
    assert body["match"] is expected


async def test_another_registered_persons_name_does_not_match_the_demo_citizen(
    client: httpx.AsyncClient, identity_svc: Headers, population: list[PersonRow]
) -> None:
    other = population[1]
    mine = await client.post(
        "/exchange/v1/matches",
        json=match_body(other.id_number, {"name": other.name}),
        headers=identity_svc,
    )
    crossed = await client.post(
        "/exchange/v1/matches", json=match_body(DEMO_ID, {"name": other.name}), headers=identity_svc
    )
    assert mine.json()["match"] is True
    assert crossed.json()["match"] is False


async def test_a_lower_case_check_character_x_finds_the_same_person(
    client: httpx.AsyncClient, identity_svc: Headers, population: list[PersonRow]
) -> None:
    person = next(person for person in population if person.id_number.endswith("X"))
    response = await client.post(
        "/exchange/v1/matches",
        json=match_body(f" {person.id_number.lower()} ", {"name": person.name}),
        headers=identity_svc,
    )
    assert response.json()["match"] is True


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"claims": {"face_template": "x"}}, 422, "field_not_matchable"),
        ({"claims": {"income": "x"}}, 422, "unknown_field"),
        ({"resource": "tax_records"}, 404, "resource_not_found"),
        ({"purpose": "marketing"}, 403, "purpose_not_allowed"),
        ({"claims": {"registered_address": "浙江省"}}, 403, "field_not_granted"),
        ({"subject": {"id_number": "330302195203140249"}}, 422, "invalid_subject"),
    ],
)
async def test_a_match_is_refused_with_a_stable_code(
    client: httpx.AsyncClient,
    identity_svc: Headers,
    problem: Problem,
    overrides: dict[str, Any],
    status: int,
    code: str,
) -> None:
    body = {**match_body(DEMO_ID, {"name": "林秀英"}), **overrides}
    response = await client.post("/exchange/v1/matches", json=body, headers=identity_svc)
    refusal = problem(response, status, code)
    assert "call_id" in refusal


async def test_a_consumer_without_a_grant_cannot_even_learn_a_no(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    stranger = bearer(token_minter.mint("rating-svc", typ="service", loa=0))
    response = await client.post(
        "/exchange/v1/matches", json=match_body(DEMO_ID, {"name": "林秀英"}), headers=stranger
    )
    problem(response, 403, "no_grant")


async def test_a_match_needs_a_token(client: httpx.AsyncClient, problem: Problem) -> None:
    response = await client.post(
        "/exchange/v1/matches", json=match_body(DEMO_ID, {"name": "林秀英"})
    )
    problem(response, 401, "unauthenticated")
