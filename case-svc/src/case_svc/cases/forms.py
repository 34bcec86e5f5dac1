"""Checking an application form against its item's form schema (JSON Schema, from the catalog).

Field errors name the field and what the schema asks for, never the value submitted: a form
carries personal data, and problem bodies end up in logs and crash reports.
"""

import functools
import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from servicekit.problems import FIELD_ERRORS, DomainError, extension_members


class FormInvalid(DomainError):
    status = 422
    code = "form_invalid"
    title = "The form does not satisfy the item's form schema"
    members = extension_members(
        errors={
            **FIELD_ERRORS,
            "examples": [
                [
                    {
                        "field": "body.form.loss_date",
                        "message": "'2026-13-01' is not a 'date'",
                        "type": "format",
                    }
                ]
            ],
        }
    )


class FormSchemaUnusable(DomainError):
    """The catalog served a form schema that is not a valid JSON Schema: its fault, not the
    applicant's, so a gateway-class status."""

    status = 502
    code = "form_schema_unusable"
    title = "The item's form schema cannot be used"


def _field(path: Any) -> str:
    return ".".join(["form", *(str(part) for part in path)])


def _requirement(error: ValidationError) -> str:
    keyword, wanted = error.validator, error.validator_value
    match keyword:
        case "type":
            kinds = wanted if isinstance(wanted, list) else [wanted]
            return f"must be of type {' or '.join(str(kind) for kind in kinds)}"
        case "minLength":
            return f"must be at least {wanted} characters long"
        case "maxLength":
            return f"must be at most {wanted} characters long"
        case "minimum":
            return f"must be at least {wanted}"
        case "maximum":
            return f"must be at most {wanted}"
        case "exclusiveMinimum":
            return f"must be greater than {wanted}"
        case "exclusiveMaximum":
            return f"must be less than {wanted}"
        case "minItems":
            return f"must have at least {wanted} items"
        case "maxItems":
            return f"must have at most {wanted} items"
        case "uniqueItems":
            return "must not repeat items"
        case "pattern":
            return "does not have the required form"
        case "format":
            return f"is not a valid {wanted}"
        case "enum":
            return "must be one of: " + ", ".join(str(choice) for choice in wanted)
        case "const":
            return f"must be {wanted}"
        case "oneOf" | "anyOf" if all(
            isinstance(branch, dict) and "const" in branch for branch in wanted
        ):
            # A choice list written as constants with titles: name the choices.
            return "must be one of: " + ", ".join(str(branch["const"]) for branch in wanted)
        case _:
            return f"does not satisfy '{keyword}'"


def _field_errors(error: ValidationError) -> Iterator[dict[str, str]]:
    keyword = str(error.validator)
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict):
        for name in error.validator_value:
            if name not in instance:
                yield {
                    "field": _field([*error.absolute_path, name]),
                    "message": "is required",
                    "type": "required",
                }
        return
    if keyword == "additionalProperties" and isinstance(instance, dict):
        declared = error.schema.get("properties", {})
        patterns = list(error.schema.get("patternProperties", {}))
        for name in instance:
            if name in declared or any(re.search(pattern, name) for pattern in patterns):
                continue
            yield {
                "field": _field([*error.absolute_path, name]),
                "message": "is not a field of this form",
                "type": "additionalProperties",
            }
        return
    yield {"field": _field(error.absolute_path), "message": _requirement(error), "type": keyword}


@functools.lru_cache(maxsize=1024)
def _validator(schema_text: str) -> Validator:
    """The validator of a schema, checked once: checking a schema against its meta-schema
    costs more than checking a form against it. By the schema's canonical text, so that a
    changed schema is another entry (the catalog's 430-odd items and their versions fit)."""
    schema = json.loads(schema_text)
    validator_class = validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except SchemaError as exc:
        raise FormSchemaUnusable("the catalog's form schema is not valid JSON Schema") from exc
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def validate_form(form: dict[str, Any], schema: dict[str, Any]) -> None:
    """Raise ``FormInvalid`` with every field error, or ``FormSchemaUnusable``."""
    validator = _validator(json.dumps(schema, sort_keys=True, separators=(",", ":")))
    # One entry per field and kind: jsonschema reports each missing property as its own error,
    # and each of those carries the whole ``required`` list.
    unique = {
        (field_error["field"], field_error["type"]): field_error
        for error in validator.iter_errors(form)
        for field_error in _field_errors(error)
    }
    errors = [unique[position] for position in sorted(unique)]
    if errors:
        raise FormInvalid(
            "; ".join(f"{entry['field']}: {entry['message']}" for entry in errors),
            errors=errors,
        )
