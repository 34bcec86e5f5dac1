"""Data calls: only the requested fields, only if granted for the purpose; refusals by code."""

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from data_exchange_svc.registry.dataset import PersonRow
from data_exchange_svc.registry.faces import cosine_similarity, template_from_seed
from servicekit.db import utcnow
from servicekit.regions import RegionCode
from servicekit.resident_id import make_resident_id
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]
GrantMaker = Callable[..., Awaitable[Headers]]

DEMO_ID = "330302195203140248"
CASE = "330302-20261126-000007"
NOBODY_ID = make_resident_id(RegionCode.parse("330302"), dt.date(1990, 1, 1), 997)


def call_body(fields: list[str], **overrides: Any) -> dict[str, Any]:
    return {
        "resource": "population",
        "subject": {"id_number": DEMO_ID},
        "fields": fields,
        "purpose": "face_verification",
        **overrides,
    }


async def test_identity_svc_reads_the_demo_citizens_region_and_face_template(
    client: httpx.AsyncClient,
    identity_svc: Headers,
    demo_citizen: PersonRow,
    demo_capture: dict[str, Any],
) -> None:
    response = await client.post(
        "/exchange/v1/calls",
        json=call_body(["registered_region", "face_template"]),
        headers=identity_svc,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "call_id",
        "resource",
        "provider_department_type",
        "consents",
        "fields",
        "source_timestamp",
        "receipt",
    }
    assert (body["resource"], body["provider_department_type"]) == (
        "population",
        "public_security",
    )
    assert set(body["fields"]) == {"registered_region", "face_template"}
    assert body["fields"]["registered_region"] == "330302026003"
    template = body["fields"]["face_template"]
    assert template == template_from_seed(demo_citizen.face_seed)
    assert len(template) == 128
    assert cosine_similarity(template, demo_capture["template"]) >= 0.9
    assert dt.datetime.fromisoformat(body["source_timestamp"]) <= utcnow()


async def test_the_demo_capture_does_not_resemble_anyone_else(
    client: httpx.AsyncClient,
    identity_svc: Headers,
    population: list[PersonRow],
    demo_capture: dict[str, Any],
) -> None:
    other = population[1]
    response = await client.post(
        "/exchange/v1/calls",
        json=call_body(["face_template"], subject={"id_number": other.id_number}),
        headers=identity_svc,
    )
    assert response.status_code == 200, response.text
    assert (
        cosine_similarity(response.json()["fields"]["face_template"], demo_capture["template"])
        < 0.5
    )


async def test_a_department_reads_exactly_the_granted_fields_it_asks_for(
    client: httpx.AsyncClient, department_with_grant: GrantMaker, demo_citizen: PersonRow
) -> None:
    department = await department_with_grant(
        fields=["id_number", "name", "birth_date", "registered_address", "ethnicity", "sex"],
        purposes=["id_card_loss_report"],
        consented_case="330302-20261126-000001",
    )
    response = await client.post(
        "/exchange/v1/calls",
        json=call_body(
            ["id_number", "name", "birth_date", "registered_address"],
            purpose="id_card_loss_report",
            case_id="330302-20261126-000001",
        ),
        headers=department,
    )
    assert response.status_code == 200, response.text
    assert response.json()["fields"] == {
        "id_number": DEMO_ID,
        "name": "林秀英",
        "birth_date": "1952-03-14",
        "registered_address": demo_citizen.registered_address,
    }


async def test_grants_combine_per_purpose_only(
    client: httpx.AsyncClient, department_with_grant: GrantMaker, problem: Problem
) -> None:
    department = await department_with_grant(
        fields=["name"],
        purposes=["social_assistance"],
        extra=[(["sex"], ["statistics"])],
        consented_case=CASE,
    )
    allowed = await client.post(
        "/exchange/v1/calls",
        json=call_body(["name"], purpose="social_assistance", case_id=CASE),
        headers=department,
    )
    assert allowed.status_code == 200, allowed.text
    refused = await client.post(
        "/exchange/v1/calls",
        json=call_body(["name", "sex"], purpose="social_assistance", case_id=CASE),
        headers=department,
    )
    assert problem(refused, 403, "field_not_granted")["fields"] == ["sex"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (call_body(["registered_region", "id_number"]), 403, "field_not_granted"),
        (call_body(["ethnicity"]), 403, "field_not_granted"),
        (call_body(["face_template"], purpose="marketing"), 403, "purpose_not_allowed"),
        (call_body(["face_template"], resource="tax_records"), 404, "resource_not_found"),
        (call_body(["salary"]), 422, "unknown_field"),
        (call_body(["face_template"], subject={"id_number": NOBODY_ID}), 404, "subject_not_found"),
        (call_body(["name"], subject={"id_number": "33030219520314024"}), 422, "invalid_subject"),
        (call_body(["name"], subject={"id_number": "330302195202300248"}), 422, "invalid_subject"),
        (call_body(["name"], subject={"id_number": "330302195203140249"}), 422, "invalid_subject"),
        (call_body(["name"], subject={"id_number": "A30302195203140248"}), 422, "invalid_subject"),
        (call_body(["name"], subject={"id_number": ""}), 422, "invalid_subject"),
    ],
    ids=[
        "field-not-granted",
        "field-outside-the-grant",
        "purpose-not-allowed",
        "unknown-resource",
        "unknown-field",
        "unknown-subject",
        "short-id",
        "impossible-birth-date",
        "wrong-check-character",
        "letters-in-id",
        "empty-id",
    ],
)
async def test_identity_svcs_call_is_refused_with_a_stable_code(
    client: httpx.AsyncClient,
    identity_svc: Headers,
    problem: Problem,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = await client.post("/exchange/v1/calls", json=body, headers=identity_svc)
    refusal = problem(response, status, code)
    assert "call_id" in refusal
    assert DEMO_ID not in response.text


@pytest.mark.parametrize(
    "grant",
    [
        {"expires_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)},
        {"revoked_at": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)},
    ],
    ids=["expired", "revoked"],
)
async def test_an_expired_or_revoked_grant_is_no_grant(
    client: httpx.AsyncClient,
    department_with_grant: GrantMaker,
    problem: Problem,
    grant: dict[str, dt.datetime],
) -> None:
    department = await department_with_grant(
        fields=["name"], purposes=["social_assistance"], **grant
    )
    response = await client.post(
        "/exchange/v1/calls",
        json=call_body(["name"], purpose="social_assistance"),
        headers=department,
    )
    problem(response, 403, "no_grant")


async def test_a_grant_that_has_not_expired_yet_is_honoured(
    client: httpx.AsyncClient, department_with_grant: GrantMaker
) -> None:
    department = await department_with_grant(
        fields=["name"],
        purposes=["social_assistance"],
        expires_at=utcnow() + dt.timedelta(days=1),
        consented_case=CASE,
    )
    response = await client.post(
        "/exchange/v1/calls",
        json=call_body(["name"], purpose="social_assistance", case_id=CASE),
        headers=department,
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"sub": "rating-svc", "typ": "service"}, "no_grant"),
        ({"sub": "citizen-1", "typ": "citizen", "region": "330302026003"}, "wrong_principal_type"),
        ({"sub": "staff-1", "typ": "staff"}, "consumer_unidentified"),
        # The grant belongs to the department, not to the staff member's own account id.
        ({"sub": "identity-svc", "typ": "staff", "dept": "330302-public_security"}, "no_grant"),
    ],
    ids=["service-without-grant", "citizen", "staff-without-department", "staff-of-other-dept"],
)
async def test_callers_without_a_grant_of_their_own_are_refused(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    claims: dict[str, Any],
    code: str,
) -> None:
    headers = bearer(token_minter.mint(**claims, loa=3))
    response = await client.post(
        "/exchange/v1/calls", json=call_body(["registered_region"]), headers=headers
    )
    problem(response, 403, code)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}],
    ids=["no-token", "garbage-token"],
)
async def test_a_call_needs_a_valid_token(
    client: httpx.AsyncClient, problem: Problem, headers: Headers
) -> None:
    response = await client.post(
        "/exchange/v1/calls", json=call_body(["registered_region"]), headers=headers
    )
    assert response.status_code == 401
    assert response.json()["code"] in {"unauthenticated", "invalid_token"}


@pytest.mark.parametrize(
    "body",
    [
        call_body([]),
        call_body(["name"], purpose="Not A Purpose"),
        call_body(["name"], subject={"id_number": "3" * 40}),
        {**call_body(["name"]), "consent": True},
    ],
    ids=["no-fields", "purpose-not-snake-case", "absurdly-long-id", "unknown-member"],
)
async def test_a_malformed_body_is_a_validation_problem(
    client: httpx.AsyncClient, identity_svc: Headers, problem: Problem, body: dict[str, Any]
) -> None:
    response = await client.post("/exchange/v1/calls", json=body, headers=identity_svc)
    problem(response, 422, "validation_failed")
