"""What an item must be to join the catalogue, checked when it is created, edited and published:
each broken rule is a 422 problem listing the fields (``errors: [{field, message, type}]``, the
shape of ``validation_failed``) with a stable type per rule."""

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from catalog_svc.admin import validation
from catalog_svc.admin.schemas import ItemContent
from catalog_svc.admin.service import published_content
from catalog_svc.models import ServiceItem
from catalog_svc.snapshot import CatalogHolder

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]

ADMIN = "/catalog/v1/admin/items"
PLATFORM = {"roles": ("platform_admin",), "dept": None, "sub": "platform-admin-01"}


def _set(path: str, value: Any, **members: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the item: set the member at a dotted path (``form_schema.properties.x``),
    and top-level ``members``."""

    def change(item: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = item
        for part in parents:
            target = target[part]
        target[last] = value
        item.update(members)

    return change


NEW_FIELD = "form_schema.properties.pet_name"


def _nested(depth: int) -> dict[str, Any]:
    field: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        field = {"type": "object", "properties": {"inner": field}}
    return field


#: (what is wrong, the change that makes it so, the field, the rule's type)
BROKEN_RULES = [
    (
        "code not <type>.<slug>",
        _set("code", "Public_Security.Dog"),
        "body.code",
        "invalid_item_code",
    ),
    (
        "code too long",
        _set("code", "public_security." + "x" * 60),
        "body.code",
        "invalid_item_code",
    ),
    (
        "code of another type",
        _set("code", "tax.dog_licence_synthetic"),
        "body.code",
        "code_department_mismatch",
    ),
    (
        "no such department type",
        _set("department_type", "space_agency", code="space_agency.dog_licence_synthetic"),
        "body.department_type",
        "unknown_department_type",
    ),
    (
        "no department of the type at the tier",
        _set("handling_tier", "township"),
        "body.handling_tier",
        "no_department_at_tier",
    ),
    (
        "promises more than the law allows",
        _set("promised_working_days", 30),
        "body.promised_working_days",
        "promised_exceeds_legal",
    ),
    (
        "a fee without amount",
        _set("fee", {"free": False}),
        "body.fee.amount_cny",
        "fee_amount_required",
    ),
    (
        "a free item with an amount",
        _set("fee", {"free": True, "amount_cny": "10.00"}),
        "body.fee.amount_cny",
        "fee_amount_for_free",
    ),
    (
        "a second person approving the decisions of an instant item",
        _set("processing_mode", "instant", decision_approval="second_person"),
        "body.decision_approval",
        "second_person_needs_review",
    ),
    (
        "a certificate issued by an instant item",
        _set("processing_mode", "instant", issues_certificate="driving_licence"),
        "body.issues_certificate",
        "certificate_needs_review",
    ),
    (
        "an unknown region",
        _set("offered_in", ["330300", "339999"]),
        "body.offered_in.1",
        "unknown_region",
    ),
    (
        "a form that is no JSON Schema",
        _set("form_schema.properties.dog_breed.type", "text"),
        "body.form_schema.properties.dog_breed.type",
        "invalid_form_schema",
    ),
    (
        "a form that is no object",
        _set("form_schema.type", "array"),
        "body.form_schema.type",
        "form_not_an_object",
    ),
    (
        "another JSON Schema dialect",
        _set("form_schema.$schema", "http://json-schema.org/draft-07/schema#"),
        "body.form_schema.$schema",
        "unsupported_schema_dialect",
    ),
    (
        "a required field the form lacks",
        _set("form_schema.required", ["name", "dog_colour"]),
        "body.form_schema.required.1",
        "unknown_required_field",
    ),
    (
        "a prefill written as text",
        _set(NEW_FIELD, {"type": "string", "x-prefill": "population.name"}),
        f"body.{NEW_FIELD}.x-prefill",
        "invalid_prefill",
    ),
    (
        "a prefill with more than resource and field",
        _set(
            NEW_FIELD,
            {"type": "string", "x-prefill": {"resource": "population", "field": "name", "x": 1}},
        ),
        f"body.{NEW_FIELD}.x-prefill",
        "invalid_prefill",
    ),
    (
        "a prefill inside a field rather than on it",
        _set(
            NEW_FIELD,
            {
                "type": "object",
                "properties": {
                    "first": {
                        "type": "string",
                        "x-prefill": {"resource": "population", "field": "name"},
                    }
                },
            },
        ),
        f"body.{NEW_FIELD}.properties.first.x-prefill",
        "invalid_prefill",
    ),
    (
        "a prefill from a field the resource lacks",
        _set(
            NEW_FIELD,
            {"type": "string", "x-prefill": {"resource": "population", "field": "salary"}},
        ),
        f"body.{NEW_FIELD}.x-prefill",
        "unknown_prefill_source",
    ),
    (
        "a prefill from an unknown resource",
        _set(
            NEW_FIELD, {"type": "string", "x-prefill": {"resource": "tax_records", "field": "name"}}
        ),
        f"body.{NEW_FIELD}.x-prefill",
        "unknown_prefill_source",
    ),
    (
        "an applicant field inside a field rather than on it",
        _set(
            NEW_FIELD,
            {
                "type": "object",
                "properties": {"first": {"type": "string", "x-applicant": "id_number"}},
            },
        ),
        f"body.{NEW_FIELD}.properties.first.x-applicant",
        "invalid_applicant_field",
    ),
    (
        "an applicant field naming no part of an identity",
        _set(NEW_FIELD, {"type": "string", "x-applicant": "phone"}),
        f"body.{NEW_FIELD}.x-applicant",
        "invalid_applicant_field",
    ),
    (
        "an applicant field that is not text",
        _set(NEW_FIELD, {"type": "integer", "x-applicant": "id_number"}),
        f"body.{NEW_FIELD}.x-applicant",
        "invalid_applicant_field",
    ),
    (
        "an enterprise's credit code on a person's form",
        _set(NEW_FIELD, {"type": "string", "x-applicant": "credit_code"}),
        f"body.{NEW_FIELD}.x-applicant",
        "applicant_part_of_other_subject",
    ),
    (
        "the applicant's name on two fields",
        _set(NEW_FIELD, {"type": "string", "x-applicant": "name"}),
        f"body.{NEW_FIELD}.x-applicant",
        "duplicate_applicant_field",
    ),
    (
        "the applicant's identity on a form that needs no real name",
        _set("min_loa", 1),
        "body.min_loa",
        "applicant_needs_real_name",
    ),
    ("the name of another item", _set("name", "居民身份证挂失申报"), "body.name", "name_taken"),
]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [pytest.param(change, field, rule, id=label) for label, change, field, rule in BROKEN_RULES],
)
async def test_a_new_item_that_breaks_a_rule_is_refused_naming_the_field_and_the_rule(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    new_item: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
    field: str,
    rule: str,
) -> None:
    change(new_item)
    response = await client.post(
        ADMIN, json=new_item, headers={**staff(**PLATFORM), "Idempotency-Key": "rules-0000001"}
    )
    body = problem(response, 422, "invalid_item")
    assert [(error["field"], error["type"]) for error in body["errors"]] == [(field, rule)]
    assert body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        pytest.param(change, field, rule, id=label)
        for label, change, field, rule in BROKEN_RULES
        # The same rules as a creation's (one function): one of each kind is enough here.
        if rule
        in {
            "no_department_at_tier",
            "promised_exceeds_legal",
            "second_person_needs_review",
            "unknown_region",
            "unknown_prefill_source",
            "applicant_part_of_other_subject",
            "name_taken",
        }
    ],
)
async def test_an_edit_that_breaks_a_rule_is_refused_and_the_draft_kept(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    new_item: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
    field: str,
    rule: str,
) -> None:
    headers = staff(**PLATFORM)
    created = await client.post(
        ADMIN, json=new_item, headers={**headers, "Idempotency-Key": "rules-0000002"}
    )
    changed = copy.deepcopy(new_item)
    change(changed)
    edit = {
        key: value for key, value in changed.items() if key != "code" and value != new_item.get(key)
    }
    response = await client.patch(
        f"{ADMIN}/{new_item['code']}/draft",
        json=edit,
        headers={**headers, "If-Match": created.headers["ETag"]},
    )
    body = problem(response, 422, "invalid_item")
    assert [(error["field"], error["type"]) for error in body["errors"]] == [(field, rule)]
    kept = await client.get(f"{ADMIN}/{new_item['code']}/draft", headers=headers)
    assert kept.headers["ETag"] == created.headers["ETag"]


async def test_a_name_is_taken_by_another_items_draft_too(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    new_item: dict[str, Any],
) -> None:
    first = await client.post(
        ADMIN, json=new_item, headers={**staff(), "Idempotency-Key": "names-0000001"}
    )
    assert first.status_code == 201, first.text
    second = {**new_item, "code": "public_security.cat_licence_synthetic"}
    response = await client.post(
        ADMIN, json=second, headers={**staff(), "Idempotency-Key": "names-0000002"}
    )
    body = problem(response, 422, "invalid_item")
    assert [(error["field"], error["type"]) for error in body["errors"]] == [
        ("body.name", "name_taken")
    ]


async def test_every_broken_rule_is_reported_at_once(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    new_item: dict[str, Any],
) -> None:
    new_item |= {
        "promised_working_days": 30,
        "offered_in": ["339999"],
        "name": "居民身份证挂失申报",
    }
    response = await client.post(
        ADMIN, json=new_item, headers={**staff(), "Idempotency-Key": "rules-0000003"}
    )
    body = problem(response, 422, "invalid_item")
    assert {error["type"] for error in body["errors"]} == {
        "promised_exceeds_legal",
        "unknown_region",
        "name_taken",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"min_loa": 0}, "body.min_loa"),
        ({"min_loa": 4}, "body.min_loa"),
        ({"handling_tier": "village"}, "body.handling_tier"),
        ({"decision_approval": "supervisor"}, "body.decision_approval"),
        ({"issues_certificate": "Driving Licence"}, "body.issues_certificate"),
        ({"visits": 2}, "body.visits"),
        ({"legal_working_days": -1}, "body.legal_working_days"),
        ({"fee": {"free": False, "amount_cny": "20"}}, "body.fee.amount_cny"),
        (
            {"materials": [{"name": "照片", "required": True, "provided_as": "fax"}]},
            "body.materials.0.provided_as",
        ),
        ({"illustrative": ["name"]}, "body.illustrative.0"),
        ({"form_schema": "not an object"}, "body.form_schema"),
        ({"form_schema": _nested(200)}, "body.form_schema"),  # nested beyond reason
        ({"colour": "blue"}, "body.colour"),
    ],
)
async def test_a_malformed_item_is_refused_as_the_request_validation_does(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    new_item: dict[str, Any],
    change: dict[str, Any],
    field: str,
) -> None:
    response = await client.post(
        ADMIN, json=new_item | change, headers={**staff(), "Idempotency-Key": "shape-0000001"}
    )
    body = problem(response, 422, "validation_failed")
    assert field in [error["field"] for error in body["errors"]]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"name": None}, 422, "validation_failed"),
        ({"form_schema": None}, 422, "validation_failed"),
        ({"notes": None}, 200, None),
        ({"legal_working_days": None}, 200, None),
    ],
)
async def test_only_optional_fields_may_be_cleared(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    changes: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    item = "public_security.id_card_loss_report"
    opened = await client.post(f"{ADMIN}/{item}/draft", headers=staff())
    response = await client.patch(
        f"{ADMIN}/{item}/draft",
        json=changes,
        headers={**staff(), "If-Match": opened.headers["ETag"]},
    )
    if code is None:
        assert response.status_code == status, response.text
    else:
        body = problem(response, status, code)
        assert body["errors"][0]["type"] == "null_not_allowed"


async def test_every_item_the_seed_loaded_keeps_the_rules(app: FastAPI) -> None:
    """The rules hold the files' items to the same standard: none of them breaks one."""
    holder: CatalogHolder = app.state.service.catalog
    async with app.state.service.database.sessionmaker() as session:
        items = list(await session.scalars(select(ServiceItem)))
    assert len(items) >= 430
    broken = {
        item.code: problems
        for item in items
        if (
            problems := validation.item_problems(
                ItemContent.model_validate(published_content(item)), holder.snapshot
            )
        )
    }
    assert broken == {}
