"""Reading a service item, and resolving who handles it for an applicant's region."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

ID_CARD_LOSS = "public_security.id_card_loss_report"
PROVIDENT_FUND_WITHDRAWAL = "housing_provident_fund.withdrawal"
HOSPITAL_APPOINTMENT = "health.hospital_appointment"
SOCIAL_CARD_LOSS = "human_resources_social_security.social_card_loss_report"
RESIDENT_MEDICAL_INSURANCE = "convenience_service.resident_medical_insurance_enrolment"
HANGZHOU_CAR_QUOTA = "transport.passenger_car_quota_application"
LUCHENG_PSB = "330302-public_security"


async def test_the_id_card_loss_report_reads_as_the_journey_needs(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/catalog/v1/items/{ID_CARD_LOSS}")
    assert response.status_code == 200, response.text
    item = response.json()
    assert item["name"] == "居民身份证挂失申报"
    assert {
        key: item[key]
        for key in (
            "department_type",
            "handling_tier",
            "subject",
            "processing_mode",
            "min_loa",
            "visits",
            "status",
        )
    } == {
        "department_type": "public_security",
        "handling_tier": "county",
        "subject": "person",
        "processing_mode": "instant",
        "min_loa": 3,
        "visits": 0,
        "status": "published",
    }
    assert {"身份证丢失", "身份证挂失", "身份证丢了"} <= set(item["aliases"])
    assert item["fee"] == {"free": True, "amount_cny": None, "basis": None}
    assert isinstance(item["version"], int)


async def test_a_form_is_a_json_schema_that_names_what_can_fill_it(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get(f"/catalog/v1/items/{ID_CARD_LOSS}")).json()["form_schema"]
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["id_number"]["x-prefill"] == {
        "resource": "population",
        "field": "id_number",
    }
    assert "loss_reason" in schema["required"]
    validator = Draft202012Validator(schema)
    complete = {
        "name": "林秀英",
        "id_number": "330302195203140248",
        "loss_reason": "lost",
        "loss_date": "2026-11-20",
        "contact_phone": "13800000000",
    }
    assert validator.is_valid(complete)
    assert not validator.is_valid({**complete, "loss_reason": "eaten"})
    assert not validator.is_valid({key: v for key, v in complete.items() if key != "loss_date"})


@pytest.mark.parametrize(
    ("item_code", "marked"),
    [
        (ID_CARD_LOSS, {"name": "name", "id_number": "id_number"}),
        (SOCIAL_CARD_LOSS, {"name": "name", "id_number": "id_number"}),
        (
            "tax.invoice_issuance",
            {"enterprise_name": "enterprise_name", "unified_social_credit_code": "credit_code"},
        ),
        # The spouse is another person: the form asks for theirs, the applicant's is hers.
        ("civil_affairs.marriage_registration", {"name": "name", "id_number": "id_number"}),
    ],
)
async def test_a_form_marks_the_fields_that_hold_the_applicants_own_identity(
    client: httpx.AsyncClient, item_code: str, marked: dict[str, str]
) -> None:
    schema = (await client.get(f"/catalog/v1/items/{item_code}")).json()["form_schema"]
    assert {
        field: definition["x-applicant"]
        for field, definition in schema["properties"].items()
        if "x-applicant" in definition
    } == marked


async def test_figures_nobody_checked_are_marked_illustrative(client: httpx.AsyncClient) -> None:
    item = (await client.get(f"/catalog/v1/items/{PROVIDENT_FUND_WITHDRAWAL}")).json()
    assert (item["processing_mode"], item["min_loa"], item["handling_tier"]) == (
        "review",
        2,
        "city",
    )
    assert "promised_working_days" in item["illustrative"]


@pytest.mark.parametrize(
    ("item_code", "decision_approval"),
    [
        # The workflow's story: she files, a handler reviews, a supervisor approves.
        (PROVIDENT_FUND_WITHDRAWAL, "second_person"),
        ("market_regulation.food_business_licence", "second_person"),  # a licence (行政许可)
        # Reviewed, and decided by the handler who reviewed it: what an item says by default.
        ("public_security.residence_permit", "single"),
        (ID_CARD_LOSS, "single"),  # instant: no review to keep apart from the decision
    ],
)
async def test_an_item_says_who_decides_its_reviewed_applications(
    client: httpx.AsyncClient, item_code: str, decision_approval: str
) -> None:
    item = (await client.get(f"/catalog/v1/items/{item_code}")).json()
    assert item["decision_approval"] == decision_approval


@pytest.mark.parametrize(
    ("item_code", "certificate"),
    [
        ("traffic_police.driving_licence_replacement", "driving_licence"),
        ("market_regulation.food_business_licence", "food_business_licence"),
        (PROVIDENT_FUND_WITHDRAWAL, None),  # the money is paid out: no certificate
    ],
)
async def test_an_item_says_which_electronic_certificate_it_issues(
    client: httpx.AsyncClient, item_code: str, certificate: str | None
) -> None:
    item = (await client.get(f"/catalog/v1/items/{item_code}")).json()
    assert item["issues_certificate"] == certificate


@pytest.mark.parametrize("code", ["no.such_item", "public_security", "x" * 300])
async def test_an_unknown_item_is_not_found(
    client: httpx.AsyncClient, problem: Problem, code: str
) -> None:
    problem(await client.get(f"/catalog/v1/items/{code}"), 404, "item_not_found")


@pytest.mark.parametrize(
    ("item_code", "region", "department_id", "department_name", "tier"),
    [
        # the journey: Songtai sub-district, or her community, or the district itself
        (ID_CARD_LOSS, "330302026", "330302-public_security", "温州市公安局鹿城区分局", "county"),
        (
            ID_CARD_LOSS,
            "330302026003",
            "330302-public_security",
            "温州市公安局鹿城区分局",
            "county",
        ),
        (ID_CARD_LOSS, "330302", "330302-public_security", "温州市公安局鹿城区分局", "county"),
        (
            ID_CARD_LOSS,
            "330302000000",
            "330302-public_security",
            "温州市公安局鹿城区分局",
            "county",
        ),
        (ID_CARD_LOSS, "330381", "330381-public_security", "瑞安市公安局", "county"),
        # a city-tier item walks up to the city
        (
            PROVIDENT_FUND_WITHDRAWAL,
            "330302026003",
            "330300-housing_provident_fund",
            "温州市住房公积金管理中心",
            "city",
        ),
        # a province-tier item: the provincial department, for any region
        (HOSPITAL_APPOINTMENT, "330302026003", "330000-health", "浙江省卫生健康委员会", "province"),
        # a township-tier item stops at the sub-district
        (
            RESIDENT_MEDICAL_INSURANCE,
            "330302026003",
            "330302026-convenience_service",
            "松台街道便民服务中心",
            "township",
        ),
    ],
)
async def test_the_responsible_department_is_found_by_walking_up_the_region(
    client: httpx.AsyncClient,
    item_code: str,
    region: str,
    department_id: str,
    department_name: str,
    tier: str,
) -> None:
    response = await client.get(f"/catalog/v1/items/{item_code}/handler", params={"region": region})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["item_code"] == item_code
    assert body["region_code"] == body["resolved_region_code"]
    assert body["department"] == {
        "id": department_id,
        "name": department_name,
        "type": department_id.split("-")[1],
        "tier": tier,
        "region_code": department_id.split("-")[0],
    }


async def test_a_retired_region_is_resolved_through_its_successor(
    client: httpx.AsyncClient,
) -> None:
    # 330103 下城区 was merged into 330105 拱墅区 in 2021; old ID numbers still carry it
    response = await client.get(
        f"/catalog/v1/items/{ID_CARD_LOSS}/handler", params={"region": "330103"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["region_code"], body["resolved_region_code"]) == ("330103", "330105")
    assert body["department"]["id"] == "330105-public_security"
    assert body["department"]["name"] == "杭州市公安局拱墅区分局"


@pytest.mark.parametrize(
    ("item_code", "region", "status", "code", "reason"),
    [
        # listed for Hangzhou only
        (HANGZHOU_CAR_QUOTA, "330302026003", 422, "item_not_offered_in_region", None),
        # Longgang has no townships: its communities sit under a statistical placeholder that
        # runs no convenience-service centre
        (
            RESIDENT_MEDICAL_INSURANCE,
            "330383198001",
            404,
            "no_responsible_department",
            "no_department",
        ),
        # a county-tier item cannot be placed from a city alone
        (ID_CARD_LOSS, "3303", 404, "no_responsible_department", "region_above_handling_tier"),
        # abolished in 1983 with no successor in the records
        (ID_CARD_LOSS, "330301", 404, "no_responsible_department", "retired_without_successor"),
        (ID_CARD_LOSS, "3303x", 422, "invalid_region_code", None),
        (ID_CARD_LOSS, "330399", 404, "region_not_found", None),
        ("no.such_item", "330302", 404, "item_not_found", None),
    ],
)
async def test_when_no_department_can_be_named_the_reason_is_given(
    client: httpx.AsyncClient,
    problem: Problem,
    item_code: str,
    region: str,
    status: int,
    code: str,
    reason: str | None,
) -> None:
    response = await client.get(f"/catalog/v1/items/{item_code}/handler", params={"region": region})
    body = problem(response, status, code)
    assert body.get("reason") == reason


async def test_the_handler_needs_a_region(client: httpx.AsyncClient, problem: Problem) -> None:
    body = problem(
        await client.get(f"/catalog/v1/items/{ID_CARD_LOSS}/handler"), 422, "validation_failed"
    )
    assert body["errors"][0]["field"] == "query.region"


async def test_the_hangzhou_only_item_is_handled_in_hangzhou(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"/catalog/v1/items/{HANGZHOU_CAR_QUOTA}/handler", params={"region": "330106"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["department"]["id"] == "330100-transport"
