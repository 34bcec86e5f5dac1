"""The applicant's identity on a form. The fields an item's form schema marks ``x-applicant``
hold the applicant's own identity (a person's name and ID number, an enterprise's credit code
and name) and take it from the identity identity-svc verified for the caller's token, never
from what is typed: a field left out is filled in, a field typed otherwise refuses the form.

Compared as people write them: spaces around, full-width characters (NFKC) and the case of an
ID number's check character or a credit code's letters make no difference. A refusal names the
fields, never the values, which are personal.
"""

import unicodedata
from collections.abc import Mapping
from typing import Any

from case_svc.cases.forms import FormSchemaUnusable
from case_svc.clients.identity import VerifiedIdentity
from servicekit.problems import FIELD_ERRORS, DomainError, UpstreamUnavailable, extension_members

APPLICANT_KEYWORD = "x-applicant"
#: The parts of the applicant's identity a field may hold, per subject of item (the catalog's).
PARTS: Mapping[str, frozenset[str]] = {
    "person": frozenset({"name", "id_number"}),
    "enterprise": frozenset({"credit_code", "enterprise_name"}),
}
#: Only a verified identity fills the fields: a real name a face match bound, at least.
MIN_LOA = 2
#: Parts written in capitals whatever was typed: an ID number's X, a credit code's letters.
_CODES = frozenset({"id_number", "credit_code"})


class ApplicantMismatch(DomainError):
    status = 422
    code = "applicant_mismatch"
    title = "The form names someone other than the verified applicant"
    members = extension_members(
        errors={
            **FIELD_ERRORS,
            "examples": [
                [
                    {
                        "field": "form.id_number",
                        "message": "is not the verified applicant's id_number: leave it out "
                        "to have it filled in",
                        "type": "applicant_mismatch",
                    }
                ]
            ],
        }
    )


def applicant_fields(schema: Mapping[str, Any], *, subject: str) -> dict[str, str]:
    """The form's fields that hold the applicant's identity, each with its part; a mark the
    item's kind of applicant cannot fill makes the schema unusable (the catalog's fault)."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return {}
    fields: dict[str, str] = {}
    for name, definition in properties.items():
        if not isinstance(definition, Mapping) or APPLICANT_KEYWORD not in definition:
            continue
        part = definition[APPLICANT_KEYWORD]
        if not isinstance(part, str) or part not in PARTS.get(subject, frozenset()):
            raise FormSchemaUnusable(
                f"form field {name} is marked as a part a {subject} applicant does not have"
            )
        fields[name] = part
    return fields


def _normalised(part: str, value: str) -> str:
    text = unicodedata.normalize("NFKC", value).strip()
    return text.upper() if part in _CODES else text


def _left_out(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def with_verified_applicant(
    form: Mapping[str, Any], fields: Mapping[str, str], identity: VerifiedIdentity
) -> dict[str, Any]:
    """The form with each applicant field holding the verified identity; ``ApplicantMismatch``
    naming every field typed otherwise."""
    verified = identity.parts()
    filled = dict(form)
    mismatched: list[dict[str, str]] = []
    for field, part in sorted(fields.items()):
        value = verified.get(part)
        if value is None:
            raise UpstreamUnavailable(f"identity-svc told no {part} of the applicant")
        typed = form.get(field)
        if not _left_out(typed) and not (
            isinstance(typed, str) and _normalised(part, typed) == _normalised(part, value)
        ):
            mismatched.append(
                {
                    "field": f"form.{field}",
                    "message": f"is not the verified applicant's {part}: leave it out to have "
                    "it filled in",
                    "type": "applicant_mismatch",
                }
            )
        filled[field] = value
    if mismatched:
        raise ApplicantMismatch(
            "; ".join(f"{entry['field']}: {entry['message']}" for entry in mismatched),
            errors=mismatched,
        )
    return filled
