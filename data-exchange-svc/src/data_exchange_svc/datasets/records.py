"""A provider's records checked against the resource's spec: every subject valid and of a kind
the resource is about, every loaded field present and of its type, nothing else. Pure: the bulk
load and the seed (reading the committed files) check records the same way.

The errors name the record's index in the batch and the field (``subject`` for the subject),
never the value, which may be personal.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from data_exchange_svc.identifiers import (
    InvalidSubjectIdentifier,
    SubjectRef,
    parse_subject,
)
from data_exchange_svc.resources.spec import POPULATION, ResourceSpec
from data_exchange_svc.resources.values import InvalidValue, parse_text, parse_value
from servicekit.resident_id import parse_resident_id


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record as the provider sent it: its subject's identifier and its fields. Fields of a
    flat file (CSV) are text, to be typed by the field's spec (``from_text``)."""

    id_number: str | None
    credit_code: str | None
    fields: Mapping[str, Any]
    from_text: bool = False


@dataclass(frozen=True, slots=True)
class RecordError:
    row: int
    field: str
    message: str

    def document(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass(frozen=True, slots=True)
class SubjectRows:
    """The rows a batch states for one subject: all of them (a load replaces the subject's),
    and the indexes of the records that stated them."""

    subject: SubjectRef
    rows: list[dict[str, JsonValue]]
    indexes: list[int]


def _population_agrees(subject: SubjectRef, values: Mapping[str, JsonValue]) -> list[str]:
    """The population's birth date and sex are written in the identity number too."""
    parsed = parse_resident_id(subject.identifier, today=dt.date.max, region_known=lambda _: True)
    wrong = []
    if values.get("birth_date") != parsed.birth_date.isoformat():
        wrong.append("birth_date")
    if values.get("sex") != parsed.sex:
        wrong.append("sex")
    return wrong


def _check(
    spec: ResourceSpec, index: int, record: RawRecord, today: dt.date, errors: list[RecordError]
) -> tuple[SubjectRef, dict[str, JsonValue]] | None:
    """One record's subject and canonical values; None (and its errors added) if refused."""
    try:
        subject = parse_subject(
            id_number=record.id_number, credit_code=record.credit_code, today=today
        )
    except InvalidSubjectIdentifier as exc:
        errors.append(RecordError(index, "subject", f"{exc} ({exc.reason})"))
        return None
    if subject.kind not in spec.subject_kinds:
        kinds = " or ".join(spec.subject_kinds)
        errors.append(RecordError(index, "subject", f"{spec.code} is about {kinds} subjects"))
        return None
    errors_before = len(errors)
    loaded = spec.loaded_fields
    for name in record.fields:
        if not spec.has_field(name) or not spec.field(name).loaded:
            message = "derived, not loaded" if spec.has_field(name) else "no such field"
            errors.append(RecordError(index, name, message))
    values: dict[str, JsonValue] = {}
    for field in loaded:
        name = field.name
        raw = record.fields.get(name)
        try:
            if record.from_text:
                values[name] = parse_text(field, "" if raw is None else str(raw), today=today)
            else:
                values[name] = parse_value(field, raw, today=today)
        except InvalidValue as exc:
            errors.append(RecordError(index, name, str(exc)))
    if spec.code == POPULATION.code and len(values) == len(loaded):
        for name in _population_agrees(subject, values):
            errors.append(RecordError(index, name, "does not agree with the identity number"))
    if len(errors) > errors_before:
        return None
    return subject, values


def check_records(
    spec: ResourceSpec, records: Sequence[RawRecord], *, today: dt.date
) -> tuple[list[SubjectRows], list[RecordError]]:
    """The batch grouped by subject, in order of first appearance; or what is wrong with it.
    A one-row resource takes one record per subject; a many-row resource's rows are put in
    ``order_by`` order (ties in batch order)."""
    errors: list[RecordError] = []
    groups: dict[SubjectRef, SubjectRows] = {}
    for index, record in enumerate(records):
        checked = _check(spec, index, record, today, errors)
        if checked is None:
            continue
        subject, values = checked
        group = groups.setdefault(subject, SubjectRows(subject, [], []))
        if spec.rows == "one" and group.rows:
            errors.append(RecordError(index, "subject", "a second record of the same subject"))
            continue
        group.rows.append(values)
        group.indexes.append(index)
    if spec.order_by is not None:
        key = spec.order_by
        for group in groups.values():
            # Nulls first, then by the canonical value (ISO dates sort as text).
            group.rows.sort(key=lambda row: (row[key] is not None, str(row[key])))
    return list(groups.values()), errors
