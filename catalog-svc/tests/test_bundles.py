"""One-issue bundles: all 41 specified, with their items, one merged form and the conditions
that leave an item out, checked when the data is loaded."""

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from catalog_svc.reference.bundles import BundleDataError, load_bundles, merge_forms
from catalog_svc.reference.conditions import holds
from catalog_svc.reference.dataset import load_dataset
from catalog_svc.reference.items import ItemRecord
from catalog_svc.settings import DEFAULT_DATA_DIR

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

BUNDLES = "/catalog/v1/bundles"


async def _every_bundle(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    listing = (await client.get(BUNDLES)).json()["items"]
    return [(await client.get(f"{BUNDLES}/{entry['code']}")).json() for entry in listing]


async def test_all_41_bundles_are_specified_with_items_and_a_merged_form(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(BUNDLES)
    assert response.status_code == 200
    bundles = response.json()["items"]
    assert len(bundles) == 41
    assert len({bundle["name"] for bundle in bundles}) == 41
    assert all(bundle["name"].endswith("一件事") for bundle in bundles)
    assert all(bundle["specified"] and bundle["item_count"] >= 2 for bundle in bundles)
    for bundle in await _every_bundle(client):
        assert len(bundle["items"]) >= 2, bundle["code"]
        Draft202012Validator.check_schema(bundle["form_schema"])
        assert set(bundle["form_schema"]["properties"]) == set(bundle["field_sources"])


async def test_at_least_ten_bundles_span_two_tiers_or_more(client: httpx.AsyncClient) -> None:
    spanning = [
        bundle["code"]
        for bundle in await _every_bundle(client)
        if len({item["handling_tier"] for item in bundle["items"]}) >= 2
    ]
    assert len(spanning) >= 10, spanning
    assert "birth" in spanning


async def test_the_birth_bundle_lists_its_items_and_asks_shared_fields_once(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get(f"{BUNDLES}/birth")).json()
    assert body["name"] == "出生一件事"
    codes = [item["code"] for item in body["items"]]
    assert codes == [
        "health.birth_medical_certificate",
        "health.vaccination_certificate",
        "public_security.birth_registration",
        "medical_security.newborn_medical_insurance",
        "human_resources_social_security.social_card_application",
        "medical_security.maternity_allowance",
    ]
    tiers = {item["code"]: item["handling_tier"] for item in body["items"]}
    assert tiers["medical_security.maternity_allowance"] == "city"
    assert tiers["public_security.birth_registration"] == "county"
    properties = body["form_schema"]["properties"]
    # Asked by every item, once in the form, feeding all of them.
    assert body["field_sources"]["id_number"] == codes
    assert set(body["field_sources"]["child_name"]) == {
        "health.birth_medical_certificate",
        "health.vaccination_certificate",
        "public_security.birth_registration",
        "medical_security.newborn_medical_insurance",
    }
    assert set(properties) == set(body["field_sources"])
    assert body["field_sources"]["birth_hospital"] == ["health.birth_medical_certificate"]
    # The bundle's own question decides a condition and feeds no item.
    assert body["field_sources"]["mother_employee_insured"] == []
    assert properties["mother_employee_insured"]["type"] == "boolean"
    # Required when any item requires it; the deciding question always.
    assert {"child_name", "birth_certificate_number", "birth_hospital"} <= set(
        body["form_schema"]["required"]
    )
    assert "mother_employee_insured" in body["form_schema"]["required"]
    conditions = {item["code"]: item["condition"] for item in body["items"]}
    assert conditions["medical_security.maternity_allowance"] == {
        "field": "mother_employee_insured",
        "equals": True,
    }
    assert conditions["public_security.birth_registration"] is None
    assert body["min_loa"] == max(item["min_loa"] for item in body["items"])


async def test_each_merged_form_is_a_schema_each_item_form_is_a_part_of(
    client: httpx.AsyncClient,
) -> None:
    item_forms: dict[str, dict[str, Any]] = {}
    for bundle in await _every_bundle(client):
        merged = bundle["form_schema"]["properties"]
        for summary in bundle["items"]:
            code = summary["code"]
            if code not in item_forms:
                item = (await client.get(f"/catalog/v1/items/{code}")).json()
                item_forms[code] = item["form_schema"]
            for field, definition in item_forms[code]["properties"].items():
                assert merged[field] == definition, (bundle["code"], field)
                assert code in bundle["field_sources"][field]
            # A field an item requires stays required in the merged form.
            assert set(item_forms[code]["required"]) <= set(bundle["form_schema"]["required"])


def test_a_bundle_without_items_loads_as_only_named(tmp_path: Path) -> None:
    (tmp_path / "bundles.toml").write_text(
        '[[bundles]]\ncode = "some_bundle"\nname = "某一件事"\nsubject = "person"\n',
        encoding="utf-8",
    )
    (bundle,) = load_bundles(tmp_path, load_dataset(DEFAULT_DATA_DIR).items)
    assert bundle.item_codes == []
    assert bundle.form_schema is None
    assert bundle.item_conditions == {}


@pytest.mark.parametrize("code", ["nothing_here", "x" * 49, "BIRTH"])
async def test_an_unknown_bundle_is_a_problem(
    client: httpx.AsyncClient, problem: Problem, code: str
) -> None:
    problem(await client.get(f"{BUNDLES}/{code}"), 404, "bundle_not_found")


def _item(code: str, properties: dict[str, Any]) -> ItemRecord:
    item = load_dataset(DEFAULT_DATA_DIR).items[0]
    schema = {**item.form_schema, "properties": properties, "required": []}
    return dataclasses.replace(item, code=code, form_schema=schema)


def test_two_items_meaning_different_things_by_one_field_cannot_be_bundled() -> None:
    first = _item("a.one", {"date": {"type": "string", "title": "丢失日期"}})
    second = _item("a.two", {"date": {"type": "string", "title": "出生日期"}})
    with pytest.raises(BundleDataError, match=r"'date'.*a\.one and a\.two.*differ in title"):
        merge_forms("clash", "冲突一件事", [first, second])


def test_one_field_name_with_schemas_that_differ_only_in_a_pattern_is_refused_too() -> None:
    first = _item("a.one", {"code": {"type": "string", "title": "编号", "pattern": "^[0-9]+$"}})
    second = _item("a.two", {"code": {"type": "string", "title": "编号"}})
    with pytest.raises(BundleDataError, match="differ in pattern"):
        merge_forms("clash", "冲突一件事", [first, second])


def test_one_field_defined_identically_by_two_items_is_asked_once() -> None:
    definition = {"type": "string", "title": "编号", "maxLength": 8}
    first = _item("a.one", {"code": definition})
    second = _item("a.two", {"code": dict(definition)})
    schema, sources = merge_forms("same", "同一件事", [first, second])
    assert list(schema["properties"]) == ["code"]
    assert sources == {"code": ["a.one", "a.two"]}


def test_a_bundle_naming_an_unknown_item_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bundles.toml").write_text(
        '[[bundles]]\ncode = "some_bundle"\nname = "某一件事"\nsubject = "person"\n'
        'items = ["no.such"]\n',
        encoding="utf-8",
    )
    with pytest.raises(BundleDataError, match="unknown items"):
        load_bundles(tmp_path, load_dataset(DEFAULT_DATA_DIR).items)


def _bundles_file(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "bundles.toml").write_text(
        '[[bundles]]\ncode = "some_bundle"\nname = "某一件事"\nsubject = "person"\n'
        'items = ["public_security.birth_registration", "medical_security.maternity_allowance"]\n'
        + extra,
        encoding="utf-8",
    )
    return tmp_path


def test_a_condition_over_a_question_of_the_bundle_is_loaded(tmp_path: Path) -> None:
    data_dir = _bundles_file(
        tmp_path,
        "[bundles.questions]\n"
        'child_count = { type = "integer", title = "子女数", minimum = 1 }\n'
        "[bundles.conditions]\n"
        '"medical_security.maternity_allowance" = { field = "child_count", at_least = 2 }\n',
    )
    (bundle,) = load_bundles(data_dir, load_dataset(DEFAULT_DATA_DIR).items)
    assert bundle.item_conditions == {
        "medical_security.maternity_allowance": {"field": "child_count", "at_least": 2}
    }
    assert bundle.field_sources["child_count"] == []
    assert bundle.form_schema is not None
    assert "child_count" in bundle.form_schema["required"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '"medical_security.maternity_allowance" = { field = "nowhere", equals = true }\n',
            "'nowhere' is not a field of the bundle's form",
        ),
        (
            '"medical_security.maternity_allowance" = { field = "child_name", equals = 3 }\n',
            "3 is not an answer the field takes",
        ),
        (
            '"medical_security.maternity_allowance" = '
            '{ field = "child_name", equals = "a", in = ["a"] }\n',
            "exactly one of equals, in, at_least",
        ),
        (
            '"medical_security.maternity_allowance" = { field = "child_name", at_least = 2 }\n',
            "`at_least` compares a number field",
        ),
        (
            '"medical_security.maternity_allowance" = { field = "child_name", in = [] }\n',
            "non-empty list",
        ),
        (
            '"medical_security.maternity_allowance" = '
            '{ field = "child_name", matches = "import os" }\n',
            "exactly one of equals, in, at_least",
        ),
        (
            '"health.vaccination_certificate" = { field = "child_name", equals = "a" }\n',
            "conditions for items not in the bundle",
        ),
    ],
)
def test_a_condition_that_cannot_be_decided_from_the_form_is_refused_at_seed_time(
    tmp_path: Path, extra: str, message: str
) -> None:
    data_dir = _bundles_file(tmp_path, "[bundles.conditions]\n" + extra)
    with pytest.raises(BundleDataError, match=re.escape(message)):
        load_bundles(data_dir, load_dataset(DEFAULT_DATA_DIR).items)


def test_a_question_named_like_an_item_field_is_refused(tmp_path: Path) -> None:
    data_dir = _bundles_file(
        tmp_path, '[bundles.questions]\nchild_name = { type = "string", title = "另一个问题" }\n'
    )
    with pytest.raises(BundleDataError, match="question 'child_name' is a field of"):
        load_bundles(data_dir, load_dataset(DEFAULT_DATA_DIR).items)


@pytest.mark.parametrize(
    ("condition", "answer", "applies"),
    [
        ({"field": "f", "equals": True}, True, True),
        ({"field": "f", "equals": True}, False, False),
        # JSON's true is not 1, nor "2" 2.
        ({"field": "f", "equals": True}, 1, False),
        ({"field": "f", "equals": 1}, True, False),
        ({"field": "f", "in": [2, 3]}, "2", False),
        ({"field": "f", "in": ["a", "b"]}, "b", True),
        ({"field": "f", "at_least": 2}, 2, True),
        ({"field": "f", "at_least": 2}, 1, False),
        ({"field": "f", "at_least": 1}, True, False),
    ],
)
def test_a_condition_holds_by_its_one_test_strictly(
    condition: dict[str, Any], answer: Any, applies: bool
) -> None:
    assert holds(condition, {"f": answer}) is applies
