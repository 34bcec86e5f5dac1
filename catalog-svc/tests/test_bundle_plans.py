"""A bundle's plan for one applicant: the items that apply given her answers, each at the
department that handles it for her region and tier, the others left out with their reason."""

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

LUCHENG = "330302"
SONGTAI = "330302026"


def plan_path(code: str) -> str:
    return f"/catalog/v1/bundles/{code}/plan"


async def _plan(
    client: httpx.AsyncClient, code: str, answers: dict[str, Any], region: str = LUCHENG
) -> dict[str, Any]:
    response = await client.post(plan_path(code), json={"region": region, "answers": answers})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_birth_plan_of_a_lucheng_mother_spans_her_county_and_wenzhou(
    client: httpx.AsyncClient,
) -> None:
    body = await _plan(client, "birth", {"mother_employee_insured": True})
    assert body["bundle_code"] == "birth"
    assert body["region_code"] == LUCHENG
    assert body["left_out"] == []
    handled = {entry["item_code"]: entry for entry in body["applying"]}
    assert len(handled) == 6
    for code in (
        "health.birth_medical_certificate",
        "public_security.birth_registration",
        "medical_security.newborn_medical_insurance",
        "human_resources_social_security.social_card_application",
    ):
        department = handled[code]["department"]
        assert handled[code]["handling_tier"] == "county"
        assert department["tier"] == "county"
        assert department["region_code"] == LUCHENG
        assert department["id"] == f"{LUCHENG}-{code.split('.')[0]}"
    assert handled["public_security.birth_registration"]["department"]["name"] == (
        "温州市公安局鹿城区分局"
    )
    allowance = handled["medical_security.maternity_allowance"]
    assert allowance["item_name"] == "生育津贴支付"
    assert allowance["handling_tier"] == "city"
    assert allowance["department"]["id"] == "330300-medical_security"
    assert allowance["department"]["tier"] == "city"
    assert allowance["department"]["region_code"] == "330300"
    assert allowance["condition"] == {"field": "mother_employee_insured", "equals": True}
    wenzhou = (await client.get("/catalog/v1/departments/330300-medical_security")).json()
    assert allowance["department"]["name"] == wenzhou["name"]
    # At least four departments across two tiers: one application, one child case each.
    assert len({entry["department"]["id"] for entry in body["applying"]}) >= 4
    assert {entry["department"]["tier"] for entry in body["applying"]} == {"county", "city"}


async def test_a_mother_without_employee_insurance_is_left_without_the_maternity_allowance(
    client: httpx.AsyncClient,
) -> None:
    body = await _plan(client, "birth", {"mother_employee_insured": False})
    assert "medical_security.maternity_allowance" not in {
        entry["item_code"] for entry in body["applying"]
    }
    assert body["left_out"] == [
        {
            "item_code": "medical_security.maternity_allowance",
            "item_name": "生育津贴支付",
            "reason": "condition_not_met",
            "condition": {"field": "mother_employee_insured", "equals": True},
        }
    ]
    assert len(body["applying"]) == 5


async def test_a_plan_from_a_community_code_walks_up_to_each_items_tier(
    client: httpx.AsyncClient,
) -> None:
    from_district = await _plan(client, "birth", {"mother_employee_insured": True})
    from_community = await _plan(
        client, "birth", {"mother_employee_insured": True}, region="330302026003"
    )
    assert from_community["region_code"] == "330302026003"
    assert [entry["department"]["id"] for entry in from_community["applying"]] == [
        entry["department"]["id"] for entry in from_district["applying"]
    ]


@pytest.mark.parametrize(("age", "allowance_applies"), [(85, True), (80, True), (79, False)])
async def test_the_senior_allowance_applies_from_eighty(
    client: httpx.AsyncClient, age: int, allowance_applies: bool
) -> None:
    # The preferential card is a township centre's: the applicant's region names her township.
    body = await _plan(
        client, "elderly_care", {"age": age, "has_employee_pension": True}, region=SONGTAI
    )
    card = next(
        entry
        for entry in body["applying"]
        if entry["item_code"] == "convenience_service.senior_preferential_card"
    )
    assert card["department"]["id"] == f"{SONGTAI}-convenience_service"
    applying = {entry["item_code"] for entry in body["applying"]}
    assert ("civil_affairs.senior_allowance" in applying) is allowance_applies
    left_out = {entry["item_code"]: entry for entry in body["left_out"]}
    # Already drawing an employee pension: no resident pension to claim.
    assert left_out["human_resources_social_security.resident_pension_claim"]["condition"] == {
        "field": "has_employee_pension",
        "equals": False,
    }


async def test_a_buyer_with_a_commercial_loan_registers_a_mortgage_but_asks_no_fund_loan(
    client: httpx.AsyncClient,
) -> None:
    body = await _plan(
        client,
        "house_purchase",
        {"financing": "commercial_loan", "has_housing_provident_fund": False},
    )
    applying = {entry["item_code"] for entry in body["applying"]}
    assert "natural_resources.mortgage_registration" in applying
    assert {entry["item_code"] for entry in body["left_out"]} == {
        "housing_provident_fund.loan_application",
        "housing_provident_fund.purchase_withdrawal",
    }


async def test_answers_to_other_fields_of_the_form_are_taken_as_they_fit(
    client: httpx.AsyncClient,
) -> None:
    body = await _plan(
        client,
        "birth",
        {"mother_employee_insured": True, "child_name": "林小雨", "contact_phone": "13800000000"},
    )
    assert len(body["applying"]) == 6


async def test_the_same_plan_again_is_not_modified(client: httpx.AsyncClient) -> None:
    request = {"region": LUCHENG, "answers": {"mother_employee_insured": True}}
    first = await client.post(plan_path("birth"), json=request)
    again = await client.post(
        plan_path("birth"), json=request, headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    other = await client.post(
        plan_path("birth"),
        json={**request, "answers": {"mother_employee_insured": False}},
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("answers", "field", "kind"),
    [
        ({}, "body.answers.mother_employee_insured", "required"),
        ({"mother_employee_insured": "yes"}, "body.answers.mother_employee_insured", "type"),
        ({"mother_employee_insured": 1}, "body.answers.mother_employee_insured", "type"),
        (
            {"mother_employee_insured": True, "favourite_colour": "red"},
            "body.answers.favourite_colour",
            "additionalProperties",
        ),
        (
            {"mother_employee_insured": True, "id_number": "33030219900101001Z"},
            "body.answers.id_number",
            "pattern",
        ),
    ],
)
async def test_answers_that_do_not_fit_the_form_are_refused_field_by_field(
    client: httpx.AsyncClient,
    problem: Problem,
    answers: dict[str, Any],
    field: str,
    kind: str,
) -> None:
    response = await client.post(plan_path("birth"), json={"region": LUCHENG, "answers": answers})
    body = problem(response, 422, "bundle_answers_invalid")
    assert {"field": field, "type": kind} in [
        {"field": error["field"], "type": error["type"]} for error in body["errors"]
    ]
    # The values given are never repeated back: answers hold personal data.
    for value in answers.values():
        if isinstance(value, str):
            assert value not in response.text


async def test_a_count_below_the_fields_minimum_is_refused(
    client: httpx.AsyncClient, problem: Problem
) -> None:
    response = await client.post(
        plan_path("unemployment"),
        json={
            "region": LUCHENG,
            "answers": {
                "has_employment_insurance": True,
                "unemployed_months": -1,
                "has_housing_provident_fund": True,
                "wants_training": False,
            },
        },
    )
    body = problem(response, 422, "bundle_answers_invalid")
    assert body["errors"] == [
        {
            "field": "body.answers.unemployed_months",
            "message": "must be at least 0",
            "type": "minimum",
        }
    ]


@pytest.mark.parametrize(
    ("code", "request_body", "status", "problem_code"),
    [
        ("nothing_here", {"region": LUCHENG}, 404, "bundle_not_found"),
        ("x" * 49, {"region": LUCHENG}, 404, "bundle_not_found"),
        ("birth", {"region": "33O302", "answers": {}}, 422, "invalid_region_code"),
        ("birth", {"region": "339999"}, 404, "region_not_found"),
        # Wenzhou as a whole names no county: the county items have no handler.
        (
            "birth",
            {"region": "3303", "answers": {"mother_employee_insured": True}},
            404,
            "no_responsible_department",
        ),
        ("birth", {"region": LUCHENG, "answers": ["yes"]}, 422, "validation_failed"),
        ("birth", {"answers": {}}, 422, "validation_failed"),
        ("birth", {"region": LUCHENG, "answers": {}, "extra": 1}, 422, "validation_failed"),
    ],
)
async def test_a_plan_that_cannot_be_made_is_a_problem(
    client: httpx.AsyncClient,
    problem: Problem,
    code: str,
    request_body: dict[str, Any],
    status: int,
    problem_code: str,
) -> None:
    problem(await client.post(plan_path(code), json=request_body), status, problem_code)


async def test_the_plans_problems_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    responses = document["paths"]["/catalog/v1/bundles/{code}/plan"]["post"]["responses"]
    documented = json.dumps(responses)
    for code in (
        "bundle_not_found",
        "bundle_not_specified",
        "bundle_answers_invalid",
        "region_not_found",
        "invalid_region_code",
        "no_responsible_department",
        "validation_failed",
    ):
        assert f'"{code}"' in documented, code


@pytest.mark.usefixtures("restore_items")
async def test_an_item_withdrawn_since_the_bundle_was_seeded_is_left_out_not_refused(
    client: httpx.AsyncClient, staff: Callable[..., dict[str, str]]
) -> None:
    code = "public_security.birth_registration"
    withdrawn = await client.post(f"/catalog/v1/admin/items/{code}/withdraw", headers=staff())
    assert withdrawn.status_code == 200, withdrawn.text
    body = await _plan(client, "birth", {"mother_employee_insured": True})
    assert code not in {entry["item_code"] for entry in body["applying"]}
    assert body["left_out"] == [
        {"item_code": code, "item_name": "出生登记", "reason": "withdrawn", "condition": None}
    ]
    assert len(body["applying"]) == 5
