"""Checking the answers a bundle's plan is asked for: each answered field is a field of the
bundle's merged form and fits its schema, and every field a condition is decided on is answered.
Other fields may be left out (the app asks the deciding questions first).

Field errors name the field and what its schema asks for, never the value given: answers are
an application form's, and problem bodies end up in logs.
"""

import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from servicekit.problems import FIELD_ERRORS, DomainError, extension_members

#: Where the answers are in the plan request's body (the errors' ``field`` starts with it).
ANSWERS_AT = "body.answers"


class BundleAnswersInvalid(DomainError):
    status = 422
    code = "bundle_answers_invalid"
    title = "The answers do not fit the bundle's form"
    members = extension_members(
        errors={
            **FIELD_ERRORS,
            "examples": [
                [
                    {
                        "field": "body.answers.mother_employee_insured",
                        "message": "decides whether an item applies: answer it",
                        "type": "required",
                    }
                ]
            ],
        }
    )


def _requirement(error: ValidationError) -> str:
    keyword, wanted = error.validator, error.validator_value
    match keyword:
        case "type":
            kinds = wanted if isinstance(wanted, list) else [wanted]
            return f"must be of type {' or '.join(str(kind) for kind in kinds)}"
        case "minimum":
            return f"must be at least {wanted}"
        case "maximum":
            return f"must be at most {wanted}"
        case "minLength" | "maxLength" | "pattern":
            return "does not have the required form"
        case "format":
            return f"is not a valid {wanted}"
        case "enum":
            return "must be one of: " + ", ".join(str(choice) for choice in wanted)
        case "oneOf" | "anyOf" if all(
            isinstance(branch, dict) and "const" in branch for branch in wanted
        ):
            return "must be one of: " + ", ".join(str(branch["const"]) for branch in wanted)
        case _:
            return f"does not satisfy '{keyword}'"


def _field(path: Sequence[object]) -> str:
    return ".".join([ANSWERS_AT, *(str(part) for part in path)])


def _field_errors(error: ValidationError) -> Iterator[dict[str, str]]:
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        for name in error.validator_value:
            if name not in instance:
                yield {
                    "field": _field([name]),
                    "message": "decides whether an item applies: answer it",
                    "type": "required",
                }
        return
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        declared = error.schema.get("properties", {})
        for name in instance:
            if name not in declared:
                yield {
                    "field": _field([name]),
                    "message": "is not a field of this bundle's form",
                    "type": "additionalProperties",
                }
        return
    yield {
        "field": _field(list(error.absolute_path)),
        "message": _requirement(error),
        "type": str(error.validator),
    }


@functools.lru_cache(maxsize=64)
def _validator(schema_text: str) -> Draft202012Validator:
    # One per bundle form (41 at most, and their versions): checking answers is cheap, building
    # the validator is not.
    schema = json.loads(schema_text)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_answers(
    answers: Mapping[str, Any], form_schema: Mapping[str, Any], deciding: Sequence[str]
) -> None:
    """Raise ``BundleAnswersInvalid`` with every field error: the merged form's fields, those
    in ``deciding`` required, the others optional."""
    schema = {
        "type": "object",
        "properties": form_schema.get("properties", {}),
        "required": sorted(set(deciding)),
        "additionalProperties": False,
    }
    validator = _validator(json.dumps(schema, sort_keys=True, separators=(",", ":")))
    unique = {
        (entry["field"], entry["type"]): entry
        for error in validator.iter_errors(dict(answers))
        for entry in _field_errors(error)
    }
    if errors := [unique[position] for position in sorted(unique)]:
        raise BundleAnswersInvalid(
            "; ".join(f"{entry['field']}: {entry['message']}" for entry in errors),
            errors=errors,
        )
