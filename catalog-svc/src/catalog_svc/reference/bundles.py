"""One-issue bundles from ``data/bundles.toml``: checked against the items, and their items' forms
merged into one, where a field several items ask for appears once."""

import copy
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from catalog_svc.reference.items import JSON_SCHEMA_DIALECT, SUBJECTS, ItemRecord

BUNDLES_FILE = "bundles.toml"
BUNDLE_CODE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
_KEYS = frozenset({"code", "name", "subject", "items", "illustrative"})


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
    #: Form field → the items it feeds, in the bundle's order.
    field_sources: dict[str, list[str]]
    illustrative: bool


def merge_forms(
    code: str, name: str, items: Sequence[ItemRecord]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """One form for the items: each field once, in first-asked order, required when any item
    requires it. Two items defining a field of the same name differently is a data error: the
    applicant would answer one question for two different meanings."""
    properties: dict[str, Any] = {}
    sources: dict[str, list[str]] = {}
    required: list[str] = []
    for item in items:
        schema = item.form_schema
        for field, definition in schema["properties"].items():
            if field in properties and _comparable(properties[field]) != _comparable(definition):
                raise BundleDataError(
                    f"{code}: field {field!r} means different things in "
                    f"{sources[field][0]} and {item.code}"
                )
            properties.setdefault(field, copy.deepcopy(definition))
            sources.setdefault(field, []).append(item.code)
        required += [field for field in schema["required"] if field not in required]
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


def _comparable(definition: Mapping[str, Any]) -> str:
    return json.dumps(definition, sort_keys=True, ensure_ascii=False)


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
        if item_codes:
            form_schema, sources = merge_forms(code, name, [by_code[c] for c in item_codes])
        bundles.append(
            BundleRecord(
                code=code,
                name=name,
                subject=subject,
                item_codes=item_codes,
                form_schema=form_schema,
                field_sources=sources,
                illustrative=bool(entry.get("illustrative", False)),
            )
        )
    for key in ("code", "name"):
        values = [getattr(bundle, key) for bundle in bundles]
        if duplicates := sorted({v for v in values if values.count(v) > 1}):
            raise BundleDataError(f"bundle {key}s used twice: {duplicates}")
    return bundles
