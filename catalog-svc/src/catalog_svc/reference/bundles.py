"""One-issue bundles from ``data/bundles.toml``: checked against the items, their items' forms
merged into one, where a field several items ask for appears once, and the conditions that
leave an item out checked against that form.

The merge rule: a field name means one thing within a bundle. Two items asking for a field of
the same name are asked once only when they define it identically, keyword for keyword
(``title``, ``pattern``, ``x-prefill`` and ``x-applicant`` included, since they say what is
asked, where a value may come from and whose it is). Any difference is refused at seed time,
naming the field, both items and the keywords that differ: the data is fixed by giving one of
the items' fields another name (or by using the shared field both mean), never by picking one
definition silently.
"""

import copy
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from catalog_svc.reference.conditions import ConditionError, check_condition
from catalog_svc.reference.items import JSON_SCHEMA_DIALECT, SUBJECTS, ItemRecord

BUNDLES_FILE = "bundles.toml"
BUNDLE_CODE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
_KEYS = frozenset({"code", "name", "subject", "items", "questions", "conditions", "illustrative"})


class BundleDataError(ValueError):
    """The bundles file is not what the seed can load; the message names the bundle."""


@dataclass(frozen=True, slots=True)
class BundleRecord:
    code: str
    name: str
    subject: str
    item_codes: list[str]
    #: The merged form (a JSON Schema object); None while the bundle is only named.
    form_schema: dict[str, Any] | None
    #: Form field → the items it feeds, in the bundle's order (none for the bundle's own
    #: questions, which only decide its conditions).
    field_sources: dict[str, list[str]]
    #: Item code → the condition under which it applies (``reference.conditions``).
    item_conditions: dict[str, dict[str, Any]]
    illustrative: bool


def merge_forms(
    code: str,
    name: str,
    items: Sequence[ItemRecord],
    questions: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """One form for the items: each field once, in first-asked order, required when any item
    requires it; then the bundle's own ``questions`` (what its conditions are decided on),
    each required. Two definitions of one field name that differ are a data error (the rule in
    the module's docstring): the applicant would answer one question for two meanings."""
    properties: dict[str, Any] = {}
    sources: dict[str, list[str]] = {}
    required: list[str] = []
    for item in items:
        schema = item.form_schema
        for field, definition in schema["properties"].items():
            if field in properties:
                _refuse_conflict(
                    code, field, sources[field][0], properties[field], item.code, definition
                )
            properties.setdefault(field, copy.deepcopy(definition))
            sources.setdefault(field, []).append(item.code)
        required += [field for field in schema["required"] if field not in required]
    for field, definition in (questions or {}).items():
        if field in properties:
            raise BundleDataError(
                f"{code}: question {field!r} is a field of {sources[field][0]} already: a "
                f"condition can name that field itself"
            )
        properties[field] = copy.deepcopy(definition)
        sources[field] = []
        required.append(field)
    schema = {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": name,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    Draft202012Validator.check_schema(schema)
    return schema, sources


def _comparable(definition: Any) -> str:
    return json.dumps(definition, sort_keys=True, ensure_ascii=False)


def _refuse_conflict(
    code: str,
    field: str,
    first_item: str,
    first: Mapping[str, Any],
    second_item: str,
    second: Mapping[str, Any],
) -> None:
    differing = sorted(
        keyword
        for keyword in set(first) | set(second)
        if _comparable(first.get(keyword)) != _comparable(second.get(keyword))
    )
    if differing:
        raise BundleDataError(
            f"{code}: field {field!r} means different things in {first_item} and "
            f"{second_item} (they differ in {', '.join(differing)}): give one of them another "
            f"name"
        )


def _conditions(
    code: str, entry: Mapping[str, Any], item_codes: Sequence[str], form: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    conditions = entry.get("conditions", {})
    if not isinstance(conditions, Mapping):
        raise BundleDataError(f"{code}: conditions is a table: item code → condition")
    if stray := sorted(set(conditions) - set(item_codes)):
        raise BundleDataError(f"{code}: conditions for items not in the bundle: {stray}")
    checked: dict[str, dict[str, Any]] = {}
    properties = form["properties"] if form is not None else {}
    for item_code in item_codes:
        if item_code not in conditions:
            continue
        try:
            checked[item_code] = check_condition(conditions[item_code], properties)
        except ConditionError as exc:
            raise BundleDataError(f"{code}: {item_code}: {exc}") from exc
    return checked


def _questions(code: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    questions = entry.get("questions", {})
    if not isinstance(questions, Mapping) or not all(
        isinstance(definition, Mapping) for definition in questions.values()
    ):
        raise BundleDataError(f"{code}: questions is a table: field → JSON Schema property")
    if not entry.get("items") and questions:
        raise BundleDataError(f"{code}: questions belong to a bundle with items")
    return dict(questions)


def load_bundles(data_dir: Path, items: Sequence[ItemRecord]) -> list[BundleRecord]:
    path = data_dir / BUNDLES_FILE
    if not path.is_file():
        return []
    with path.open("rb") as handle:
        entries = tomllib.load(handle).get("bundles", [])
    by_code = {item.code: item for item in items}
    bundles: list[BundleRecord] = []
    for entry in entries:
        code = entry.get("code")
        if not isinstance(code, str) or not BUNDLE_CODE.match(code):
            raise BundleDataError(f"bundle code {code!r} is not a lower-case slug")
        if unknown := set(entry) - _KEYS:
            raise BundleDataError(f"{code}: unknown keys {sorted(unknown)}")
        name, subject = entry.get("name"), entry.get("subject")
        if not isinstance(name, str) or not name:
            raise BundleDataError(f"{code}: no name")
        if subject not in SUBJECTS:
            raise BundleDataError(f"{code}: subject must be one of {SUBJECTS}")
        item_codes = list(entry.get("items", []))
        if missing := [c for c in item_codes if c not in by_code]:
            raise BundleDataError(f"{code}: unknown items {missing}")
        if len(item_codes) != len(set(item_codes)):
            raise BundleDataError(f"{code}: an item is listed twice")
        if withdrawn := [c for c in item_codes if by_code[c].status != "published"]:
            raise BundleDataError(f"{code}: withdrawn items {withdrawn}")
        form_schema: dict[str, Any] | None = None
        sources: dict[str, list[str]] = {}
        questions = _questions(code, entry)
        if item_codes:
            form_schema, sources = merge_forms(
                code, name, [by_code[c] for c in item_codes], questions
            )
        conditions = _conditions(code, entry, item_codes, form_schema)
        bundles.append(
            BundleRecord(
                code=code,
                name=name,
                subject=subject,
                item_codes=item_codes,
                form_schema=form_schema,
                field_sources=sources,
                item_conditions=conditions,
                illustrative=bool(entry.get("illustrative", False)),
            )
        )
    for key in ("code", "name"):
        values = [getattr(bundle, key) for bundle in bundles]
        if duplicates := sorted({v for v in values if values.count(v) > 1}):
            raise BundleDataError(f"bundle {key}s used twice: {duplicates}")
    return bundles
