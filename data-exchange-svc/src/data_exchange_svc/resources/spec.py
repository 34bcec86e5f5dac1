"""The resources the exchange hosts, as their specs say (``specs.toml`` beside this file): the
catalogue entry of each, the type of each field, whom a resource is about and how many rows a
subject has. The seed writes the catalogue from them; loads and reads follow them."""

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from data_exchange_svc.identifiers import SubjectKind

Rows = Literal["one", "many"]
FieldType = Literal[
    "text",
    "date",
    "month",
    "integer",
    "amount",
    "boolean",
    "choice",
    "region",
    "id_number",
    "household_members",
    "face_template",
    "subject",
    "age_at_least",
    "currently_valid",
]
Sensitivity = Literal["general", "personal", "sensitive_personal"]

#: Computed when a match asks, from the row's stored fields; a call cannot read them.
PREDICATE_TYPES: frozenset[str] = frozenset({"age_at_least", "currently_valid"})
#: Fields holding personal identifiers: sealed at rest (see datasets.repository).
SEALED_TYPES: frozenset[str] = frozenset({"id_number", "household_members"})
#: Identity-grade values (a face template, another person's full identity number): only the
#: platform's identity service holds a grant on them, seeded; the grant workflow never grants one.
RESERVED_TYPES: frozenset[str] = frozenset({"face_template", "id_number", "household_members"})
#: The stored fields each predicate reads.
PREDICATE_INPUTS: Mapping[str, tuple[str, ...]] = {
    "age_at_least": ("birth_date",),
    "currently_valid": ("certificate_status", "valid_from", "valid_until"),
}
DEFAULT_TEXT_LENGTH = 256


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    label: str
    type: FieldType
    sensitivity: Sensitivity
    matchable: bool = False
    nullable: bool = False
    choices: tuple[str, ...] | None = None
    max_length: int = DEFAULT_TEXT_LENGTH
    minimum: int | None = None
    maximum: int | None = None
    #: Whether the platform's trust in a person or an enterprise rests on it (a name, a face
    #: template, a legal representative): changing a held value needs a data steward's approval.
    identity_critical: bool = False

    @property
    def is_predicate(self) -> bool:
        return self.type in PREDICATE_TYPES

    @property
    def readable(self) -> bool:
        """Whether a call can read it (a predicate only answers a match)."""
        return not self.is_predicate

    @property
    def loaded(self) -> bool:
        """Whether a provider's record carries it (not derived from the subject or computed)."""
        return not self.is_predicate and self.type != "subject"

    @property
    def sealed(self) -> bool:
        return self.type in SEALED_TYPES

    @property
    def reserved(self) -> bool:
        return self.type in RESERVED_TYPES


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    code: str
    name: str
    owner_department_type: str
    classification: Literal["unconditional", "conditional", "not_shared"]
    hosting: Literal["hosted", "remote"]
    description: str
    subject_kinds: tuple[SubjectKind, ...]
    rows: Rows
    fields: tuple[FieldSpec, ...]
    order_by: str | None = None
    #: The region field that places a record in a jurisdiction: a provider loads only records
    #: whose region lies within its own. None: the subject's domicile places it (see
    #: datasets.held).
    jurisdiction: str | None = None
    #: The fields by name, and those a record carries: derived once (loads look them up for
    #: every value).
    _by_name: dict[str, FieldSpec] = dataclasses.field(init=False, repr=False, compare=False)
    loaded_fields: tuple[FieldSpec, ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {field.name: field for field in self.fields})
        loaded = tuple(field for field in self.fields if field.loaded)
        object.__setattr__(self, "loaded_fields", loaded)

    def field(self, name: str) -> FieldSpec:
        return self._by_name[name]

    def has_field(self, name: str) -> bool:
        return name in self._by_name


class InvalidSpec(ValueError):
    """The specs file contradicts itself: a startup error, never a request's."""


def _field(resource: str, raw: Mapping[str, Any]) -> FieldSpec:
    kind = raw["type"]
    if kind not in get_args(FieldType):
        raise InvalidSpec(f"{resource}.{raw['name']}: unknown type {kind!r}")
    choices = raw.get("choices")
    if (kind in ("choice", "household_members")) != (choices is not None):
        raise InvalidSpec(
            f"{resource}.{raw['name']}: choices go with a choice, or the relations with members"
        )
    return FieldSpec(
        name=raw["name"],
        label=raw["label"],
        type=kind,
        sensitivity=raw["sensitivity"],
        matchable=raw.get("matchable", False),
        nullable=raw.get("nullable", False),
        choices=tuple(choices) if choices is not None else None,
        max_length=raw.get("max_length", DEFAULT_TEXT_LENGTH),
        minimum=raw.get("minimum"),
        maximum=raw.get("maximum"),
        identity_critical=raw.get("identity_critical", False),
    )


def _resource(raw: Mapping[str, Any]) -> ResourceSpec:
    code = raw["code"]
    fields = tuple(_field(code, field) for field in raw["fields"])
    names = [field.name for field in fields]
    if len(set(names)) != len(names):
        raise InvalidSpec(f"{code}: a field name appears twice")
    spec = ResourceSpec(
        code=code,
        name=raw["name"],
        owner_department_type=raw["owner_department_type"],
        classification=raw["classification"],
        hosting=raw["hosting"],
        description=raw["description"],
        subject_kinds=tuple(raw["subject_kinds"]),
        rows=raw["rows"],
        fields=fields,
        order_by=raw.get("order_by"),
        jurisdiction=raw.get("jurisdiction"),
    )
    if not spec.subject_kinds or not set(spec.subject_kinds) <= set(get_args(SubjectKind)):
        raise InvalidSpec(f"{code}: subject_kinds must name person and/or enterprise")
    if spec.rows not in get_args(Rows):
        raise InvalidSpec(f"{code}: rows is one or many")
    if spec.order_by is not None and (
        spec.rows != "many"
        or spec.order_by not in names
        or spec.field(spec.order_by).type not in ("date", "month", "choice", "text")
    ):
        raise InvalidSpec(f"{code}: order_by names a textual field of a many-row resource")
    if spec.jurisdiction is not None and (
        spec.jurisdiction not in names or spec.field(spec.jurisdiction).type != "region"
    ):
        raise InvalidSpec(f"{code}: jurisdiction names a region field of the resource")
    if any(field.identity_critical for field in fields) and (
        spec.rows != "one" or spec.hosting != "hosted"
    ):
        # A change is found by comparing the one held row with the one loaded.
        raise InvalidSpec(f"{code}: only a hosted one-row resource has identity-critical fields")
    if any(f.identity_critical and f.sealed and f.type != "id_number" for f in fields):
        # Held values are compared without decryption: an identity number by its keyed hash.
        raise InvalidSpec(f"{code}: a sealed identity-critical field is an identity number")
    if spec.hosting == "remote" and any(f.is_predicate or f.sealed for f in fields):
        # The provider answers with values: predicates and sealed storage are the exchange's
        # own, for what it hosts.
        raise InvalidSpec(f"{code}: a remote resource has no predicates and no sealed fields")
    for field in fields:
        missing = set(PREDICATE_INPUTS.get(field.type, ())) - set(names)
        if missing:
            raise InvalidSpec(f"{code}.{field.name}: the predicate needs {sorted(missing)}")
    return spec


def load_specs(path: Path) -> dict[str, ResourceSpec]:
    with path.open("rb") as source:
        document = tomllib.load(source)
    specs = [_resource(raw) for raw in document["resource"]]
    return {spec.code: spec for spec in specs}


#: Every resource the exchange serves, by code: those it hosts and the remote ones it asks.
HOSTED: Mapping[str, ResourceSpec] = load_specs(Path(__file__).with_name("specs.toml"))
POPULATION = HOSTED["population"]
