"""The public catalogue of data resources."""

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete

from data_exchange_svc.models import DataResource

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


async def test_the_resource_list_is_public_and_describes_the_population_registry(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/exchange/v1/resources")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    (population,) = [item for item in body["items"] if item["code"] == "population"]
    assert population["owner_department_type"] == "public_security"
    assert population["classification"] == "conditional"
    assert population["hosting"] == "hosted"
    sensitivity = {field["name"]: field["sensitivity"] for field in population["fields"]}
    assert sensitivity == {
        "name": "personal",
        "id_number": "sensitive_personal",
        "sex": "personal",
        "birth_date": "personal",
        "ethnicity": "sensitive_personal",
        "registered_address": "personal",
        "registered_region": "personal",
        "face_template": "sensitive_personal",
        "id_card_status": "personal",
        "age_at_least": "personal",
    }
    matchable = {field["name"] for field in population["fields"] if field["matchable"]}
    assert "face_template" not in matchable
    assert "id_number" not in matchable
    assert population["subject_kinds"] == ["person"]
    assert population["rows_per_subject"] == "one"
    types = {field["name"]: field["type"] for field in population["fields"]}
    assert (types["birth_date"], types["id_number"], types["age_at_least"]) == (
        "date",
        "subject",
        "age_at_least",
    )


HOSTED_RESOURCES = {
    # code: (owner department type, subject kinds, rows per subject)
    "population": ("public_security", ["person"], "one"),
    "household_registration": ("public_security", ["person"], "one"),
    "marriage_registration": ("civil_affairs", ["person"], "many"),
    "birth_certificate": ("health", ["person"], "one"),
    "social_security_contribution": ("human_resources_social_security", ["person"], "many"),
    "housing_provident_fund": ("housing_provident_fund", ["person"], "one"),
    "motor_vehicle": ("traffic_police", ["person"], "many"),
    "traffic_violation": ("traffic_police", ["person"], "many"),
    "utility_account": ("housing_urban_rural_development", ["person"], "many"),
    "social_security_card": ("human_resources_social_security", ["person"], "one"),
    "child_birth_certificate": ("health", ["person"], "many"),
    "death_registration": ("health", ["person"], "one"),
    "resident_id_card": ("public_security", ["person"], "one"),
    "contact_information": ("big_data_administration", ["person", "enterprise"], "one"),
    "business_registration": ("market_regulation", ["enterprise"], "one"),
    "electronic_certificate": ("big_data_administration", ["person", "enterprise"], "many"),
}
REMOTE_RESOURCES = {"tax_clearance": ("tax", ["person", "enterprise"], "one")}


async def test_the_catalogue_lists_every_resource_with_its_hosting_subjects_and_shape(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/exchange/v1/resources")).json()
    listed = {
        item["code"]: (
            item["owner_department_type"],
            item["subject_kinds"],
            item["rows_per_subject"],
        )
        for item in body["items"]
    }
    assert listed == HOSTED_RESOURCES | REMOTE_RESOURCES
    for item in body["items"]:
        assert item["hosting"] == ("remote" if item["code"] in REMOTE_RESOURCES else "hosted")
        assert item["classification"] == "conditional"
        for field in item["fields"]:
            has_choices = field["type"] in ("choice", "household_members")
            assert has_choices == (field["choices"] is not None), field


async def test_business_registration_is_described_as_identity_svc_expects(
    client: httpx.AsyncClient,
) -> None:
    entry = (await client.get("/exchange/v1/resources/business_registration")).json()
    assert entry["owner_department_type"] == "market_regulation"
    assert entry["subject_kinds"] == ["enterprise"]
    fields = {field["name"]: field for field in entry["fields"]}
    assert set(fields) >= {
        "credit_code",
        "enterprise_name",
        "enterprise_type",
        "registered_region",
        "registered_address",
        "established_on",
        "registration_status",
        "legal_representative_name",
        "legal_representative_id_number",
    }
    representative = fields["legal_representative_id_number"]
    assert (representative["sensitivity"], representative["matchable"]) == (
        "sensitive_personal",
        True,
    )
    assert fields["registration_status"]["choices"] == ["active", "deregistered"]


async def test_the_resource_list_pages_by_cursor(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(
            DataResource(
                code="aa_test_resource",
                name="测试",
                owner_department_type="civil_affairs",
                classification="unconditional",
                hosting="remote",
            )
        )
    try:
        first = (await client.get("/exchange/v1/resources", params={"limit": 1})).json()
        assert [item["code"] for item in first["items"]] == ["aa_test_resource"]
        assert first["next_cursor"] is not None
        second = (
            await client.get(
                "/exchange/v1/resources", params={"limit": 1, "cursor": first["next_cursor"]}
            )
        ).json()
        assert [item["code"] for item in second["items"]] == ["birth_certificate"]
        assert second["next_cursor"] not in (None, first["next_cursor"])
    finally:
        async with app.state.service.database.sessionmaker.begin() as session:
            await session.execute(
                delete(DataResource).where(DataResource.code == "aa_test_resource")
            )


async def test_one_resource_is_read_by_code_and_an_unknown_one_is_not_found(
    client: httpx.AsyncClient, problem: Problem
) -> None:
    response = await client.get("/exchange/v1/resources/population")
    assert response.status_code == 200
    assert response.json()["code"] == "population"
    problem(await client.get("/exchange/v1/resources/tax_records"), 404, "resource_not_found")
