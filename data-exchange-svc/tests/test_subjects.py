"""The subject of a call or match: exactly one identifier, well formed, of a kind the resource
is about. Any other is 422 ``invalid_subject``, recorded in the ledger like every refusal."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from data_exchange_svc.identifiers import IdentifierProtector
from servicekit.credit_code import make_credit_code
from servicekit.regions import RegionCode
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]
GrantMaker = Callable[..., Awaitable[Headers]]

DEMO_ID = "330302195203140248"
DEMO_CREDIT_CODE = "91330302MA1P3D8712"
#: Well formed, and registered by nobody.
UNKNOWN_CREDIT_CODE = make_credit_code(
    registration_authority="9",
    category="1",
    region=RegionCode.parse("330302"),
    organisation_code="MA0000001",
)
#: Well formed with a region outside Zhejiang: any well-formed region code is a known one.
BEIJING_CREDIT_CODE = make_credit_code(
    registration_authority="9",
    category="1",
    region=RegionCode.parse("110105"),
    organisation_code="MA0000002",
)
PURPOSE = "service_delivery"
A_FIELD_OF = {
    "population": "name",
    "business_registration": "enterprise_name",
    "electronic_certificate": "certificate_number",
}


@pytest.mark.parametrize(
    ("resource", "subject", "reason"),
    [
        ("population", {}, "not_exactly_one_identifier"),
        ("population", {"id_number": DEMO_ID, "credit_code": DEMO_CREDIT_CODE}, None),
        ("population", {"credit_code": DEMO_CREDIT_CODE}, "subject_kind_not_accepted"),
        ("business_registration", {"id_number": DEMO_ID}, "subject_kind_not_accepted"),
        ("business_registration", {"credit_code": DEMO_CREDIT_CODE[:-1]}, "wrong_length"),
        ("business_registration", {"credit_code": DEMO_CREDIT_CODE.lower()}, "invalid_characters"),
        ("business_registration", {"credit_code": "9133030IMA1P3D8712"}, "invalid_characters"),
        ("business_registration", {"credit_code": "91000000MA1P3D8712"}, "unknown_region"),
        ("business_registration", {"credit_code": DEMO_CREDIT_CODE[:-1] + "3"}, None),
        ("electronic_certificate", {"id_number": "330302195203140249"}, None),
        ("electronic_certificate", {"credit_code": ""}, "wrong_length"),
    ],
    ids=[
        "none",
        "both",
        "enterprise-for-a-person-resource",
        "person-for-an-enterprise-resource",
        "short-code",
        "lower-case-code",
        "letter-I-in-code",
        "zero-region",
        "wrong-check-character",
        "wrong-id-check-character",
        "empty-code",
    ],
)
async def test_a_subject_that_is_not_one_valid_identifier_of_an_accepted_kind_is_refused(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    resource: str,
    subject: dict[str, str],
    reason: str | None,
) -> None:
    # Checked before the grants: even a caller without any learns only that the form is wrong.
    stranger = bearer(token_minter.mint("rating-svc", typ="service", loa=0))
    response = await client.post(
        "/exchange/v1/calls",
        json={
            "resource": resource,
            "subject": subject,
            "fields": [A_FIELD_OF[resource]],
            "purpose": PURPOSE,
        },
        headers=stranger,
    )
    refusal = problem(response, 422, "invalid_subject")
    if reason is not None:
        assert refusal["reason"] == reason
    assert refusal["receipt"]["entry"]["outcome"] == "refused"
    assert refusal["receipt"]["entry"]["code"] == "invalid_subject"
    assert DEMO_ID not in response.text


@pytest.mark.parametrize("kind", ["id_number", "credit_code"])
async def test_certificates_answer_for_a_person_and_for_an_enterprise(
    client: httpx.AsyncClient,
    service_with_grant: GrantMaker,
    dataset_rows: Callable[[str], list[dict[str, Any]]],
    kind: str,
) -> None:
    held = next(row for row in dataset_rows("electronic_certificate") if row[kind])
    headers = await service_with_grant(
        resource="electronic_certificate", fields=["holder_name"], purposes=[PURPOSE]
    )
    response = await client.post(
        "/exchange/v1/calls",
        json={
            "resource": "electronic_certificate",
            "subject": {kind: held[kind]},
            "fields": ["holder_name"],
            "purpose": PURPOSE,
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert held["holder_name"] in response.json()["fields"]["holder_name"]


@pytest.mark.parametrize("code", [UNKNOWN_CREDIT_CODE, BEIJING_CREDIT_CODE])
async def test_a_well_formed_code_of_no_registered_enterprise_is_not_found_or_no_match(
    client: httpx.AsyncClient, identity_svc: Headers, problem: Problem, code: str
) -> None:
    body = {
        "resource": "business_registration",
        "subject": {"credit_code": code},
        "purpose": "enterprise_representation",
    }
    call = await client.post(
        "/exchange/v1/calls", json={**body, "fields": ["enterprise_name"]}, headers=identity_svc
    )
    problem(call, 404, "subject_not_found")
    match = await client.post(
        "/exchange/v1/matches",
        json={**body, "claims": {"registration_status": "active"}},
        headers=identity_svc,
    )
    assert match.json()["match"] is False


async def test_the_ledger_names_an_enterprise_by_a_keyed_hash_apart_from_identity_numbers(
    client: httpx.AsyncClient, identity_svc: Headers, app: FastAPI
) -> None:
    response = await client.post(
        "/exchange/v1/calls",
        json={
            "resource": "business_registration",
            "subject": {"credit_code": DEMO_CREDIT_CODE},
            "fields": ["enterprise_name"],
            "purpose": "enterprise_representation",
        },
        headers=identity_svc,
    )
    entry = response.json()["receipt"]["entry"]
    protector: IdentifierProtector = app.state.service.identifiers
    assert entry["subject_hash"] == protector.credit_code_hash(DEMO_CREDIT_CODE)
    assert entry["subject_hash"] != protector.lookup_hash(DEMO_CREDIT_CODE)
    assert DEMO_CREDIT_CODE not in response.text


@pytest.mark.parametrize(
    "subject",
    [{"credit_code": "9" * 40}, {"passport": "E12345678"}],
    ids=["absurdly-long-code", "unknown-identifier"],
)
async def test_a_subject_of_the_wrong_shape_is_a_validation_problem(
    client: httpx.AsyncClient, identity_svc: Headers, problem: Problem, subject: dict[str, str]
) -> None:
    response = await client.post(
        "/exchange/v1/calls",
        json={
            "resource": "business_registration",
            "subject": subject,
            "fields": ["enterprise_name"],
            "purpose": "enterprise_representation",
        },
        headers=identity_svc,
    )
    problem(response, 422, "validation_failed")
