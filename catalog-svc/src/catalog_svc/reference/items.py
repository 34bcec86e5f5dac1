"""Service items from ``data/items.toml``: checked, and their forms built into JSON Schemas.

The file is data a person edits, so everything the rest of the service relies on is checked
here, before anything is written: codes, tiers and types that departments exist for, the form
schema (a valid JSON Schema, its prefill references naming a known resource field, its fields of
the applicant's identity fit for the item's subject), a second person's approval of decisions
only where a department reviews.
"""

import copy
import re
import tomllib
from collections import Counter
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

ITEMS_FILE = "items.toml"
#: Items generated from a compact table (scripts/generate_items.py); shared fields and prefill
#: resources are defined in ``ITEMS_FILE`` only.
GENERATED_ITEMS_FILE = "items_generated.toml"
ITEM_FILES = (ITEMS_FILE, GENERATED_ITEMS_FILE)
ITEM_CODE = re.compile(r"^[a-z][a-z_]*\.[a-z0-9][a-z0-9_]*$")
ITEM_CODE_MAX_LENGTH = 64
#: A certificate type, as the exchange's certificate library names it.
CERTIFICATE_TYPE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
PREFILL_KEYWORD = "x-prefill"
#: Marks a form field that holds part of the applicant's identity. case-svc fills it from the
#: identity identity-svc verified and refuses a form that names someone else in it: unlike a
#: pre-fill (``x-prefill``: a registry's value the applicant confirms or corrects), it is never
#: taken from what is typed.
APPLICANT_KEYWORD = "x-applicant"
#: The parts of the applicant's identity a field may hold, per subject of item. The legal
#: representative named on an enterprise's form is not among them: the enterprise applies, and
#: an employee may file for it.
APPLICANT_PARTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"person": ("name", "id_number"), "enterprise": ("credit_code", "enterprise_name")}
)
#: Only a verified identity fills those fields: an item whose form has any needs a real name.
APPLICANT_MIN_LOA = 2

HANDLING_TIERS = ("province", "city", "county", "township")
SUBJECTS = ("person", "enterprise")
PROCESSING_MODES = ("instant", "review")
#: Who decides a reviewed application: the handler who reviewed it ("single"), or a supervisor
#: who did not review it approves the handler's decision ("second_person").
DECISION_APPROVALS = ("single", "second_person")
#: What an item that says nothing of it has: one person reviews and decides.
SINGLE_DECISION = "single"
VISITS = ("0", "1", "on_site")
STATUSES = ("published", "withdrawn")
#: The fields an item may mark as illustrative (figures or assignments nobody has checked).
CHECKABLE_FIELDS = frozenset(
    {
        "department_type",
        "handling_tier",
        "visits",
        "legal_working_days",
        "promised_working_days",
        "fee",
        "materials",
        "decision_approval",
    }
)

Visits = Literal[0, 1, "on_site"]


class ItemDataError(ValueError):
    """The items file is not what the seed can load; the message names the item."""


@dataclass(frozen=True, slots=True)
class ItemRecord:
    code: str
    name: str
    aliases: list[str]
    keywords: list[str]
    department_type: str
    handling_tier: str
    subject: str
    topics: list[str]
    visits: str
    processing_mode: str
    decision_approval: str
    issues_certificate: str | None
    min_loa: int
    legal_working_days: int | None
    promised_working_days: int | None
    fee: dict[str, Any]
    materials: list[dict[str, Any]]
    form_schema: dict[str, Any]
    offered_in: list[str]
    illustrative: list[str]
    version: int
    status: str
    notes: str | None


_ITEM_KEYS = frozenset(ItemRecord.__dataclass_fields__) - {"form_schema"} | {"form"}


def visits_value(stored: str) -> Visits:
    """The API's form of the stored ``visits``: 0, 1 or "on_site"."""
    if stored == "0":
        return 0
    if stored == "1":
        return 1
    return "on_site"


def _choice(
    entry: Mapping[str, Any],
    key: str,
    allowed: tuple[str, ...],
    code: str,
    default: str | None = None,
) -> str:
    value = entry.get(key, default)
    if value not in allowed:
        raise ItemDataError(f"{code}: {key} must be one of {allowed}, not {value!r}")
    return str(value)


def _strings(entry: Mapping[str, Any], key: str, code: str) -> list[str]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ItemDataError(f"{code}: {key} must be a list of non-empty strings")
    return list(value)


def _days(entry: Mapping[str, Any], key: str, code: str) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ItemDataError(f"{code}: {key} must be a whole number of working days")
    return value


def _fee(entry: Mapping[str, Any], code: str) -> dict[str, Any]:
    fee = entry.get("fee")
    if not isinstance(fee, dict) or not isinstance(fee.get("free"), bool):
        raise ItemDataError(f"{code}: fee needs free = true|false")
    if not fee["free"] and not re.fullmatch(r"\d+\.\d{2}", str(fee.get("amount_cny", ""))):
        raise ItemDataError(f"{code}: a fee that is not free needs amount_cny like '20.00'")
    return dict(fee)


def _materials(entry: Mapping[str, Any], code: str) -> list[dict[str, Any]]:
    materials = entry.get("materials", [])
    for material in materials:
        if not isinstance(material.get("name"), str) or not isinstance(
            material.get("required"), bool
        ):
            raise ItemDataError(f"{code}: every material needs a name and required")
        if material.get("provided_as") not in ("data_sharing", "upload", "paper"):
            raise ItemDataError(f"{code}: material {material['name']} has no valid provided_as")
    return [dict(material) for material in materials]


def _visits(entry: Mapping[str, Any], code: str) -> str:
    value = entry.get("visits")
    stored = str(value) if not isinstance(value, bool) else ""
    if stored not in VISITS:
        raise ItemDataError(f"{code}: visits must be 0, 1 or 'on_site', not {value!r}")
    return stored


def keyword_uses(
    node: Any, keyword: str, path: tuple[object, ...] = ()
) -> Iterator[tuple[tuple[object, ...], Any]]:
    """Every use of a form keyword (``x-prefill``, ``x-applicant``) in a schema: where it is (the
    path of the schema object that carries it) and its value."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == keyword:
                yield path, value
            else:
                yield from keyword_uses(value, keyword, (*path, key))
    elif isinstance(node, list):
        for position, value in enumerate(node):
            yield from keyword_uses(value, keyword, (*path, position))


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A rule across an item's fields that the item breaks: the files' items and those
    administrators write are held to the same rules."""

    #: Where, from the item: ``("form_schema", "properties", "name", "x-applicant")``.
    where: tuple[object, ...]
    message: str
    type: str


def applicant_field_problems(
    schema: Mapping[str, Any], *, subject: str, min_loa: int
) -> list[RuleProblem]:
    """Each ``x-applicant`` of a valid form schema: on a text field of the form itself, naming
    a part of the identity of the item's kind of applicant, each part on one field at most; and
    an item with any asks for a verified real name."""
    every_part = {part for parts in APPLICANT_PARTS.values() for part in parts}
    allowed = APPLICANT_PARTS.get(subject, ())
    properties: Mapping[str, Any] = schema.get("properties", {})
    problems: list[RuleProblem] = []
    field_of: dict[str, object] = {}
    for where, part in keyword_uses(schema, APPLICANT_KEYWORD):
        at = ("form_schema", *where, APPLICANT_KEYWORD)
        if len(where) != 2 or where[0] != "properties":
            problems.append(
                RuleProblem(
                    at,
                    "x-applicant belongs on a field of the form itself",
                    "invalid_applicant_field",
                )
            )
        elif not isinstance(part, str) or part not in every_part:
            problems.append(
                RuleProblem(
                    at,
                    f"x-applicant names a part of the applicant's identity: one of "
                    f"{', '.join(sorted(every_part))}",
                    "invalid_applicant_field",
                )
            )
        elif part not in allowed:
            problems.append(
                RuleProblem(
                    at,
                    f"a {subject} applicant has no {part}: x-applicant is one of "
                    f"{', '.join(allowed)} here",
                    "applicant_part_of_other_subject",
                )
            )
        elif properties[str(where[1])].get("type") != "string":
            problems.append(
                RuleProblem(
                    at,
                    'a field of the applicant\'s identity holds text: "type": "string"',
                    "invalid_applicant_field",
                )
            )
        elif part in field_of:
            problems.append(
                RuleProblem(
                    at,
                    f"field {field_of[part]!r} holds the applicant's {part} already",
                    "duplicate_applicant_field",
                )
            )
        else:
            field_of[part] = where[1]
    if field_of and min_loa < APPLICANT_MIN_LOA:
        problems.append(
            RuleProblem(
                ("min_loa",),
                f"a form holding the applicant's identity needs a verified real name: "
                f"min_loa {APPLICANT_MIN_LOA} or more",
                "applicant_needs_real_name",
            )
        )
    return problems


def decision_approval_problems(
    *, processing_mode: str, decision_approval: str
) -> list[RuleProblem]:
    """A second person approves a decision only where a department reviews the application:
    an instant item is decided as it is filed, with no review to keep apart from the decision."""
    if decision_approval == SINGLE_DECISION or processing_mode == "review":
        return []
    return [
        RuleProblem(
            ("decision_approval",),
            'only an item a department reviews (processing_mode "review") has a decision a '
            f'second person approves: an instant item is "{SINGLE_DECISION}"',
            "second_person_needs_review",
        )
    ]


def issues_certificate_problems(
    *, processing_mode: str, issues_certificate: str | None
) -> list[RuleProblem]:
    """An item issues a certificate only where a department reviews the application: the
    certificate's number is given when the result is delivered, a step an instant item (decided
    and completed as it is filed) never takes."""
    if issues_certificate is None:
        return []
    if not CERTIFICATE_TYPE.match(issues_certificate):
        return [
            RuleProblem(
                ("issues_certificate",),
                "a certificate type is a lower-case slug (e.g. food_business_licence)",
                "invalid_certificate_type",
            )
        ]
    if processing_mode != "review":
        return [
            RuleProblem(
                ("issues_certificate",),
                'only an item a department reviews (processing_mode "review") issues a '
                "certificate: its number is given as the result is delivered",
                "certificate_needs_review",
            )
        ]
    return []


def build_form_schema(
    code: str,
    title: str,
    form: Mapping[str, Any],
    shared_fields: Mapping[str, Any],
    prefill_resources: Mapping[str, Set[str]],
) -> dict[str, Any]:
    """The item's form as a JSON Schema object: shared fields first, then the item's own."""
    properties: dict[str, Any] = {}
    for name in form.get("fields", []):
        if name not in shared_fields:
            raise ItemDataError(f"{code}: the form names an unknown shared field {name!r}")
        properties[name] = copy.deepcopy(shared_fields[name])
    for name, definition in form.get("properties", {}).items():
        if name in properties:
            raise ItemDataError(f"{code}: form field {name!r} is defined twice")
        properties[name] = copy.deepcopy(definition)
    required = list(form.get("required", []))
    if missing := [name for name in required if name not in properties]:
        raise ItemDataError(f"{code}: required form fields that do not exist: {missing}")
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": title,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ItemDataError(f"{code}: the form is not a valid JSON Schema: {exc.message}") from exc
    for name, definition in properties.items():
        prefill = definition.get(PREFILL_KEYWORD)
        if prefill is None:
            continue
        resource, field = prefill.get("resource"), prefill.get("field")
        if field not in prefill_resources.get(resource, frozenset()):
            raise ItemDataError(f"{code}: field {name} prefills from unknown {resource}.{field}")
    return schema


def _item(
    entry: Mapping[str, Any],
    *,
    shared_fields: Mapping[str, Any],
    prefill_resources: Mapping[str, Set[str]],
    offered: Set[tuple[str, str]],
) -> ItemRecord:
    code = entry.get("code")
    if not isinstance(code, str) or not ITEM_CODE.match(code):
        raise ItemDataError(f"item code {code!r} is not <department type>.<slug>")
    if unknown_keys := set(entry) - _ITEM_KEYS:
        raise ItemDataError(f"{code}: unknown keys {sorted(unknown_keys)}")
    if len(code) > ITEM_CODE_MAX_LENGTH:
        raise ItemDataError(f"{code}: longer than {ITEM_CODE_MAX_LENGTH} characters")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ItemDataError(f"{code}: no name")
    department_type = str(entry.get("department_type"))
    tier = _choice(entry, "handling_tier", HANDLING_TIERS, code)
    if (department_type, tier) not in offered:
        raise ItemDataError(f"{code}: no department template builds {department_type} at {tier}")
    min_loa = entry.get("min_loa")
    if min_loa not in (1, 2, 3):
        raise ItemDataError(f"{code}: min_loa must be 1, 2 or 3")
    version = entry.get("version")
    if not isinstance(version, int) or version < 1:
        raise ItemDataError(f"{code}: version must be a positive integer")
    illustrative = _strings(entry, "illustrative", code)
    if unknown := set(illustrative) - CHECKABLE_FIELDS:
        raise ItemDataError(f"{code}: illustrative names unknown fields {sorted(unknown)}")
    offered_in = _strings(entry, "offered_in", code)
    form = entry.get("form")
    if not isinstance(form, dict):
        raise ItemDataError(f"{code}: no form")
    subject = _choice(entry, "subject", SUBJECTS, code)
    processing_mode = _choice(entry, "processing_mode", PROCESSING_MODES, code)
    decision_approval = _choice(
        entry, "decision_approval", DECISION_APPROVALS, code, default=SINGLE_DECISION
    )
    issues_certificate = entry.get("issues_certificate")
    if issues_certificate is not None and not isinstance(issues_certificate, str):
        raise ItemDataError(f"{code}: issues_certificate is a certificate type")
    form_schema = build_form_schema(code, name, form, shared_fields, prefill_resources)
    if problems := [
        *applicant_field_problems(form_schema, subject=subject, min_loa=min_loa),
        *decision_approval_problems(
            processing_mode=processing_mode, decision_approval=decision_approval
        ),
        *issues_certificate_problems(
            processing_mode=processing_mode, issues_certificate=issues_certificate
        ),
    ]:
        where = ".".join(str(part) for part in problems[0].where)
        raise ItemDataError(f"{code}: {where}: {problems[0].message}")
    return ItemRecord(
        code=code,
        name=name,
        aliases=_strings(entry, "aliases", code),
        keywords=_strings(entry, "keywords", code),
        department_type=department_type,
        handling_tier=tier,
        subject=subject,
        topics=_strings(entry, "topics", code),
        visits=_visits(entry, code),
        processing_mode=processing_mode,
        decision_approval=decision_approval,
        issues_certificate=issues_certificate,
        min_loa=min_loa,
        legal_working_days=_days(entry, "legal_working_days", code),
        promised_working_days=_days(entry, "promised_working_days", code),
        fee=_fee(entry, code),
        materials=_materials(entry, code),
        form_schema=form_schema,
        offered_in=offered_in,
        illustrative=illustrative,
        version=version,
        status=_choice(entry, "status", STATUSES, code),
        notes=entry.get("notes"),
    )


def _prefill_resources(document: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    return {
        resource: frozenset(fields)
        for resource, fields in document.get("prefill_resources", {}).items()
    }


def load_prefill_resources(data_dir: Path) -> dict[str, frozenset[str]]:
    """The data resources, and their fields, that a form field's ``x-prefill`` may name."""
    with (data_dir / ITEMS_FILE).open("rb") as handle:
        return _prefill_resources(tomllib.load(handle))


def load_items(
    data_dir: Path, *, offered: Set[tuple[str, str]], region_codes: Set[str]
) -> list[ItemRecord]:
    """Every item of the files; ``offered`` is the (department type, tier) pairs departments
    exist for, ``region_codes`` the known current regions (for ``offered_in``)."""
    with (data_dir / ITEMS_FILE).open("rb") as handle:
        document = tomllib.load(handle)
    entries = list(document.get("items", []))
    for extra in ITEM_FILES[1:]:
        if (path := data_dir / extra).is_file():
            with path.open("rb") as handle:
                entries += tomllib.load(handle).get("items", [])
    shared_fields: dict[str, Any] = document.get("fields", {})
    prefill_resources = _prefill_resources(document)
    items = [
        _item(
            entry,
            shared_fields=shared_fields,
            prefill_resources=prefill_resources,
            offered=offered,
        )
        for entry in entries
    ]
    for key in ("code", "name"):
        values = Counter(getattr(item, key) for item in items)
        if duplicates := sorted(value for value, count in values.items() if count > 1):
            raise ItemDataError(f"item {key}s used twice: {duplicates}")
    for item in items:
        if unknown := [code for code in item.offered_in if code not in region_codes]:
            raise ItemDataError(f"{item.code}: offered_in names unknown regions {unknown}")
    return items
