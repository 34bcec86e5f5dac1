"""The catalogue's rules for an item that administrators write, beyond the shape the request
schema checks: each rule is a function from the item (and the catalogue it joins) to the fields
it breaks, with a stable ``type`` per rule; ``RULES`` lists them.

A problem names its field the way the kit's ``validation_failed`` does (``body.<field>...``), so
that clients read one shape for both.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from catalog_svc.admin.schemas import ItemContent
from catalog_svc.reference.items import (
    ITEM_CODE,
    ITEM_CODE_MAX_LENGTH,
    JSON_SCHEMA_DIALECT,
    PREFILL_KEYWORD,
    applicant_field_problems,
    decision_approval_problems,
    issues_certificate_problems,
    keyword_uses,
)
from catalog_svc.snapshot import CatalogSnapshot
from servicekit.problems import FIELD_ERRORS, DomainError, extension_members


class InvalidItem(DomainError):
    """422 with ``errors: [{field, message, type}]``, as ``validation_failed`` has."""

    status = 422
    code = "invalid_item"
    title = "The item breaks the catalogue's rules"
    members = extension_members(
        errors={
            **FIELD_ERRORS,
            "examples": [
                [
                    {
                        "field": "body.promised_working_days",
                        "message": "must not exceed the statutory working days (20)",
                        "type": "promised_beyond_statutory",
                    }
                ]
            ],
        }
    )


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str
    type: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "type": self.type}


def invalid_item(problems: list[FieldProblem]) -> InvalidItem:
    return InvalidItem(
        "; ".join(f"{problem.field}: {problem.message}" for problem in problems),
        errors=[problem.as_json() for problem in problems],
    )


def _path(*parts: object) -> str:
    return ".".join(("body", *(str(part) for part in parts)))


def code_problems(code: str, department_type: str) -> list[FieldProblem]:
    """A new item's code: ``<department type>.<slug>``, its own department type's."""
    if len(code) > ITEM_CODE_MAX_LENGTH or not ITEM_CODE.match(code):
        return [
            FieldProblem(
                _path("code"),
                f"an item code is <department type>.<slug> in lower-case ASCII, at most "
                f"{ITEM_CODE_MAX_LENGTH} characters",
                "invalid_item_code",
            )
        ]
    if code.split(".", 1)[0] != department_type:
        return [
            FieldProblem(
                _path("code"),
                f"the code begins with the item's department type: {department_type}.<slug>",
                "code_department_mismatch",
            )
        ]
    return []


Rule = Callable[[ItemContent, CatalogSnapshot], list[FieldProblem]]


def _department(item: ItemContent, snapshot: CatalogSnapshot) -> list[FieldProblem]:
    kinds = snapshot.department_kinds
    if item.department_type not in {kind for kind, _tier in kinds}:
        return [
            FieldProblem(
                _path("department_type"),
                f"no department of type {item.department_type!r} exists",
                "unknown_department_type",
            )
        ]
    if (item.department_type, item.handling_tier) not in kinds:
        return [
            FieldProblem(
                _path("handling_tier"),
                f"no {item.department_type} department exists at {item.handling_tier} level",
                "no_department_at_tier",
            )
        ]
    return []


def _working_days(item: ItemContent, _snapshot: CatalogSnapshot) -> list[FieldProblem]:
    promised, legal = item.promised_working_days, item.legal_working_days
    if promised is not None and legal is not None and promised > legal:
        return [
            FieldProblem(
                _path("promised_working_days"),
                f"the province promises no more than the law allows ({legal} working days)",
                "promised_exceeds_legal",
            )
        ]
    return []


def _fee(item: ItemContent, _snapshot: CatalogSnapshot) -> list[FieldProblem]:
    if not item.fee.free and item.fee.amount_cny is None:
        return [
            FieldProblem(
                _path("fee", "amount_cny"),
                "an item that is not free states its amount, like '20.00'",
                "fee_amount_required",
            )
        ]
    if item.fee.free and item.fee.amount_cny is not None:
        return [
            FieldProblem(
                _path("fee", "amount_cny"), "a free item has no amount", "fee_amount_for_free"
            )
        ]
    return []


def _decision_approval(item: ItemContent, _snapshot: CatalogSnapshot) -> list[FieldProblem]:
    return [
        FieldProblem(_path(*problem.where), problem.message, problem.type)
        for problem in decision_approval_problems(
            processing_mode=item.processing_mode, decision_approval=item.decision_approval
        )
    ]


def _issues_certificate(item: ItemContent, _snapshot: CatalogSnapshot) -> list[FieldProblem]:
    return [
        FieldProblem(_path(*problem.where), problem.message, problem.type)
        for problem in issues_certificate_problems(
            processing_mode=item.processing_mode, issues_certificate=item.issues_certificate
        )
    ]


def _offered_in(item: ItemContent, snapshot: CatalogSnapshot) -> list[FieldProblem]:
    problems = []
    for position, code in enumerate(item.offered_in):
        region = snapshot.regions.get(code)
        if region is None or region.status != "current":
            problems.append(
                FieldProblem(
                    _path("offered_in", position),
                    f"{code!r} is not the official code of a current region",
                    "unknown_region",
                )
            )
    return problems


def _form(item: ItemContent, snapshot: CatalogSnapshot) -> list[FieldProblem]:
    schema = item.form_schema
    dialect = schema.get("$schema", JSON_SCHEMA_DIALECT)
    if dialect != JSON_SCHEMA_DIALECT:
        return [
            FieldProblem(
                _path("form_schema", "$schema"),
                f"forms are JSON Schema 2020-12 ({JSON_SCHEMA_DIALECT})",
                "unsupported_schema_dialect",
            )
        ]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [FieldProblem(_path("form_schema", *exc.path), exc.message, "invalid_form_schema")]
    if schema.get("type") != "object":
        return [
            FieldProblem(
                _path("form_schema", "type"),
                'a form is a JSON object: "type": "object"',
                "form_not_an_object",
            )
        ]
    properties: Mapping[str, Any] = schema.get("properties", {})
    problems = [
        FieldProblem(
            _path("form_schema", "required", position),
            f"{name!r} is required but no property of the form",
            "unknown_required_field",
        )
        for position, name in enumerate(schema.get("required", []))
        if name not in properties
    ]
    for where, prefill in keyword_uses(schema, PREFILL_KEYWORD):
        field = _path("form_schema", *where, PREFILL_KEYWORD)
        if len(where) != 2 or where[0] != "properties":
            problems.append(
                FieldProblem(
                    field, "x-prefill belongs on a field of the form itself", "invalid_prefill"
                )
            )
        elif (
            not isinstance(prefill, Mapping)
            or set(prefill) != {"resource", "field"}
            or not all(isinstance(value, str) for value in prefill.values())
        ):
            problems.append(
                FieldProblem(
                    field,
                    'x-prefill is {"resource": "<data resource>", "field": "<its field>"}',
                    "invalid_prefill",
                )
            )
        elif prefill["field"] not in snapshot.prefill_resources.get(
            prefill["resource"], frozenset()
        ):
            problems.append(
                FieldProblem(
                    field,
                    f"no data resource field {prefill['resource']}.{prefill['field']} can "
                    f"fill a form",
                    "unknown_prefill_source",
                )
            )
    problems += [
        FieldProblem(_path(*problem.where), problem.message, problem.type)
        for problem in applicant_field_problems(schema, subject=item.subject, min_loa=item.min_loa)
    ]
    return problems


RULES: tuple[Rule, ...] = (
    _department,
    _working_days,
    _fee,
    _decision_approval,
    _issues_certificate,
    _offered_in,
    _form,
)


def item_problems(item: ItemContent, snapshot: CatalogSnapshot) -> list[FieldProblem]:
    """Every rule the item breaks, in the order of ``RULES``."""
    return [problem for rule in RULES for problem in rule(item, snapshot)]
