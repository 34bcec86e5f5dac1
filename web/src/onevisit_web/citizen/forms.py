"""An item's application form as the pages show it: each property of its JSON Schema becomes a
field (a string an input, one of a list a select, a date a date input, a number a number
input), and what she posts becomes the values to send. Pure functions: the pages call them, the
tests read them."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

FieldKind = Literal["text", "select", "date", "number"]

#: The prefixes of a form field's name in the platform's refusals: ``form.x`` when the form
#: fails the item's schema, ``body.form.x`` when the request fails the API's own.
ERROR_PREFIXES = ("form.", "body.form.")
#: What she is told beside a refused field, by the kind of refusal (JSON Schema's keyword).
ERROR_WORDS = {
    "required": "此项必须填写。",
    "format": "格式不正确，请检查。",
    "pattern": "格式不正确，请检查。",
    "maxLength": "内容太长，请删减。",
    "const": "请从选项中选择。",
    "oneOf": "请从选项中选择。",
    "enum": "请从选项中选择。",
}
OTHER_ERROR = "填写有误，请检查。"


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: FieldKind
    required: bool
    #: A select's choices: (value, label).
    options: tuple[tuple[str, str], ...] = ()
    max_length: int | None = None
    #: Her identity (``x-applicant``: name, id_number, …): filled from her verified identity,
    #: never typed.
    applicant: str | None = None
    integer: bool = False


def _options(spec: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    if isinstance(spec.get("oneOf"), list):
        return tuple(
            (str(choice["const"]), str(choice.get("title") or choice["const"]))
            for choice in spec["oneOf"]
            if isinstance(choice, dict) and "const" in choice
        )
    if isinstance(spec.get("enum"), list):
        return tuple((str(value), str(value)) for value in spec["enum"])
    return ()


def _kind(spec: Mapping[str, Any], options: tuple[tuple[str, str], ...]) -> FieldKind:
    if options:
        return "select"
    if spec.get("type") in ("number", "integer"):
        return "number"
    if spec.get("format") == "date":
        return "date"
    return "text"


def form_fields(schema: Mapping[str, Any]) -> list[FormField]:
    """The form's fields, in the schema's order."""
    required = set(schema.get("required") or [])
    fields = []
    for name, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, dict):
            continue
        options = _options(spec)
        max_length = spec.get("maxLength")
        fields.append(
            FormField(
                name=name,
                label=str(spec.get("title") or name),
                kind=_kind(spec, options),
                required=name in required,
                options=options,
                max_length=max_length if isinstance(max_length, int) else None,
                applicant=str(spec["x-applicant"]) if "x-applicant" in spec else None,
                integer=spec.get("type") == "integer",
            )
        )
    return fields


def _typed(field: FormField, text: str) -> Any:
    """A posted value as the schema types it (a number that does not parse is sent as typed:
    the platform names the field it refuses)."""
    if field.kind != "number":
        return text
    try:
        return int(text) if field.integer else float(text)
    except ValueError:
        return text


def shown(field: FormField, value: Any) -> str:
    """A value as the page shows it: her ID number masked, as the platform masks it (the
    screen of a phone is seen by others; the case keeps it whole)."""
    text = "" if value is None else str(value)
    if field.applicant == "id_number" and len(text) > 8:
        return text[:4] + "*" * (len(text) - 8) + text[-4:]
    return text


def posted_values(fields: list[FormField], posted: Mapping[str, str]) -> dict[str, Any]:
    """Every field posted, typed as the schema types it (an answer to a notice names its
    fields: each is sent, an empty one as null)."""
    values: dict[str, Any] = {}
    for field in fields:
        if field.name in posted:
            text = posted[field.name].strip()
            values[field.name] = _typed(field, text) if text else None
    return values


def changed_values(
    fields: list[FormField],
    posted: Mapping[str, str],
    current: Mapping[str, Any],
    locked: set[str],
) -> dict[str, Any]:
    """What she typed or changed: the fields she may type whose posted value differs from the
    draft's (an emptied field is cleared: null)."""
    changes: dict[str, Any] = {}
    for field in fields:
        if field.name in locked or field.applicant or field.name not in posted:
            continue
        text = posted[field.name].strip()
        before = current.get(field.name)
        if not text:
            if before not in (None, ""):
                changes[field.name] = None
            continue
        value = _typed(field, text)
        if value != before:
            changes[field.name] = value
    return changes


def field_errors(problem: Mapping[str, Any]) -> dict[str, str]:
    """The platform's refusals of fields (``errors``: ``form.<name>``), by field name, in
    words."""
    errors: dict[str, str] = {}
    for error in problem.get("errors") or []:
        if not isinstance(error, dict):
            continue
        where = str(error.get("field") or "")
        for prefix in ERROR_PREFIXES:
            if where.startswith(prefix) and len(where) > len(prefix):
                name = where.removeprefix(prefix).split(".")[0]
                errors[name] = ERROR_WORDS.get(str(error.get("type")), OTHER_ERROR)
                break
    return errors
