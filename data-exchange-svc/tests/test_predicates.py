"""Verify without sharing, beyond equality: "is this person at least N years old" and "is this
licence valid today". The caller learns yes or no, never the birth date or the validity period.
"""

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from data_exchange_svc.registry.dataset import PersonRow
from data_exchange_svc.resources.spec import HOSTED
from data_exchange_svc.resources.values import age_on, valid_on
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]
GrantMaker = Callable[..., Awaitable[Headers]]
DatasetRows = Callable[[str], list[dict[str, Any]]]

PURPOSE = "elderly_allowance"
CHINA = dt.timezone(dt.timedelta(hours=8))


def completed_years(birth: dt.date, today: dt.date) -> int:
    years = today.year - birth.year
    return years - 1 if (today.month, today.day) < (birth.month, birth.day) else years


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (dt.date(1966, 11, 27), dt.date(2026, 11, 26), 59),
        (dt.date(1966, 11, 26), dt.date(2026, 11, 26), 60),
        (dt.date(1964, 2, 29), dt.date(2024, 2, 29), 60),
        (dt.date(1964, 2, 29), dt.date(2025, 2, 28), 60),
        (dt.date(1965, 2, 28), dt.date(2025, 2, 27), 59),
        (dt.date(1964, 2, 29), dt.date(2023, 2, 28), 58),
        (dt.date(1964, 2, 29), dt.date(2023, 3, 1), 59),
    ],
    ids=[
        "day-before-birthday",
        "birthday",
        "leap-birthday",
        "leap-born-a-year-on",
        "day-before",
        "leap-born-28-february",
        "leap-born-1-march",
    ],
)
def test_age_counts_completed_years_and_a_29_february_birthday_falls_on_1_march(
    birth: dt.date, today: dt.date, age: int
) -> None:
    assert age_on(birth, today) == age


@pytest.mark.parametrize(
    ("row", "today", "valid"),
    [
        (
            {"certificate_status": "valid", "valid_from": "2020-01-01", "valid_until": None},
            "2026-11-26",
            True,
        ),
        (
            {
                "certificate_status": "valid",
                "valid_from": "2020-01-01",
                "valid_until": "2026-11-26",
            },
            "2026-11-26",
            True,
        ),
        (
            {
                "certificate_status": "valid",
                "valid_from": "2020-01-01",
                "valid_until": "2026-11-25",
            },
            "2026-11-26",
            False,
        ),
        (
            {"certificate_status": "valid", "valid_from": "2026-11-27", "valid_until": None},
            "2026-11-26",
            False,
        ),
        (
            {"certificate_status": "revoked", "valid_from": "2020-01-01", "valid_until": None},
            "2026-11-26",
            False,
        ),
        (
            {
                "certificate_status": "cancelled",
                "valid_from": "2020-01-01",
                "valid_until": "2030-01-01",
            },
            "2026-11-26",
            False,
        ),
    ],
    ids=["long-term", "last-day", "expired", "not-yet", "revoked", "cancelled"],
)
def test_a_certificate_is_valid_on_a_day_of_its_period_while_its_status_is_valid(
    row: dict[str, Any], today: str, valid: bool
) -> None:
    assert valid_on(row, dt.date.fromisoformat(today)) is valid


async def _matches(
    client: httpx.AsyncClient,
    headers: Headers,
    resource: str,
    subject: dict[str, str],
    claims: dict[str, str],
) -> httpx.Response:
    return await client.post(
        "/exchange/v1/matches",
        json={"resource": resource, "subject": subject, "claims": claims, "purpose": PURPOSE},
        headers=headers,
    )


async def test_is_this_person_at_least_so_old_answers_yes_or_no(
    client: httpx.AsyncClient, service_with_grant: GrantMaker, population: list[PersonRow]
) -> None:
    headers = await service_with_grant(
        resource="population", fields=["age_at_least"], purposes=[PURPOSE]
    )
    today = dt.datetime.now(CHINA).date()
    for person in (population[0], min(population, key=lambda p: p.birth_date), population[2]):
        age = completed_years(person.birth_date, today)
        subject = {"id_number": person.id_number}
        for claim, expected in (
            (str(age), True),
            (str(age + 1), False),
            ("0", True),
            ("60", age >= 60),
        ):
            response = await _matches(
                client, headers, "population", subject, {"age_at_least": claim}
            )
            assert response.status_code == 200, response.text
            assert response.json()["match"] is expected, (person, claim)
            assert set(response.json()) == {"match", "call_id", "receipt"}


@pytest.mark.parametrize("claim", ["sixty", "-1", "151", "6.5", "", "６０"])
async def test_an_age_claim_that_is_not_a_whole_number_of_years_is_refused_and_recorded(
    client: httpx.AsyncClient, service_with_grant: GrantMaker, problem: Problem, claim: str
) -> None:
    headers = await service_with_grant(
        resource="population", fields=["age_at_least"], purposes=[PURPOSE]
    )
    response = await _matches(
        client, headers, "population", {"id_number": "330302195203140248"}, {"age_at_least": claim}
    )
    refusal = problem(response, 422, "invalid_claim")
    assert refusal["receipt"]["entry"]["code"] == "invalid_claim"


async def test_a_predicate_cannot_be_read_by_a_call(
    client: httpx.AsyncClient, service_with_grant: GrantMaker, problem: Problem
) -> None:
    headers = await service_with_grant(
        resource="population", fields=["age_at_least"], purposes=[PURPOSE]
    )
    response = await client.post(
        "/exchange/v1/calls",
        json={
            "resource": "population",
            "subject": {"id_number": "330302195203140248"},
            "fields": ["age_at_least"],
            "purpose": PURPOSE,
        },
        headers=headers,
    )
    assert problem(response, 422, "field_not_readable")["fields"] == ["age_at_least"]


def _certificate(
    rows: list[dict[str, Any]], wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    return next(row for row in rows if wanted(row))


def _subject(row: dict[str, Any]) -> dict[str, str]:
    return (
        {"id_number": row["id_number"]} if row["id_number"] else {"credit_code": row["credit_code"]}
    )


async def test_is_this_licence_valid_today_answers_for_the_holders_licence_only(
    client: httpx.AsyncClient, service_with_grant: GrantMaker, dataset_rows: DatasetRows
) -> None:
    rows = dataset_rows("electronic_certificate")
    today = dt.datetime.now(CHINA).date().isoformat()
    long_term = _certificate(
        rows, lambda r: r["certificate_status"] == "valid" and not r["valid_until"]
    )
    expired = _certificate(
        rows,
        lambda r: (
            r["certificate_status"] == "valid"
            and r["valid_until"]
            and r["valid_until"] < "2026-01-01"
        ),
    )
    revoked = _certificate(rows, lambda r: r["certificate_status"] == "revoked")
    cancelled = _certificate(rows, lambda r: r["certificate_status"] == "cancelled")
    assert long_term["valid_from"] <= today
    headers = await service_with_grant(
        resource="electronic_certificate",
        fields=["certificate_number", "currently_valid"],
        purposes=[PURPOSE],
    )

    async def valid(row: dict[str, Any], *, number: str | None = None, claim: str = "true") -> bool:
        response = await _matches(
            client,
            headers,
            "electronic_certificate",
            _subject(row),
            {"certificate_number": number or row["certificate_number"], "currently_valid": claim},
        )
        assert response.status_code == 200, response.text
        verdict: bool = response.json()["match"]
        return verdict

    assert await valid(long_term)
    assert not await valid(long_term, claim="false")
    assert not await valid(expired)
    assert await valid(expired, claim="false")
    assert not await valid(revoked)
    assert not await valid(cancelled)
    # Someone else's valid licence number does not make this holder's licence valid.
    other = _certificate(
        rows, lambda r: _subject(r) != _subject(expired) and r["certificate_status"] == "valid"
    )
    assert not await valid(expired, number=other["certificate_number"])


@pytest.mark.parametrize("claim", ["yes", "1", ""])
async def test_a_validity_claim_is_true_or_false(
    client: httpx.AsyncClient,
    service_with_grant: GrantMaker,
    dataset_rows: DatasetRows,
    problem: Problem,
    claim: str,
) -> None:
    row = dataset_rows("electronic_certificate")[0]
    headers = await service_with_grant(
        resource="electronic_certificate", fields=["currently_valid"], purposes=[PURPOSE]
    )
    response = await _matches(
        client, headers, "electronic_certificate", _subject(row), {"currently_valid": claim}
    )
    problem(response, 422, "invalid_claim")


def test_the_predicates_are_declared_as_match_only_fields() -> None:
    age = HOSTED["population"].field("age_at_least")
    validity = HOSTED["electronic_certificate"].field("currently_valid")
    assert (age.matchable, age.readable, validity.matchable, validity.readable) == (
        True,
        False,
        True,
        False,
    )


async def test_a_department_applies_for_a_predicate_and_asks_it_once_approved(
    client: httpx.AsyncClient, token_minter: TokenMinter
) -> None:
    department = f"330302-test_{secrets.token_hex(4)}"
    system = bearer(token_minter.mint("system-1", typ="department_system", loa=0, dept=department))
    provider = bearer(
        token_minter.mint(
            "officer-7", typ="staff", dept="330302-public_security", roles=["data_steward"]
        )
    )
    applied = await client.post(
        "/exchange/v1/grants",
        json={
            "resource": "population",
            "fields": ["age_at_least"],
            "purposes": [PURPOSE],
            "legal_basis": "老年人权益保障法 第三十三条",
            "rate_limit": {"per_minute": 600},
        },
        headers=system,
    )
    assert applied.status_code == 201, applied.text
    expires_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    approved = await client.post(
        f"/exchange/v1/grants/{applied.json()['id']}/approve",
        json={"expires_at": expires_at},
        headers=provider,
    )
    assert approved.status_code == 200, approved.text
    response = await _matches(
        client, system, "population", {"id_number": "330302195203140248"}, {"age_at_least": "60"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["match"] is True
