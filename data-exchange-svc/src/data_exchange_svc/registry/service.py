"""A population record and its fields' canonical values: read one out, or build a new row."""

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import JsonValue

from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.registry.faces import pack_template, unpack_template
from data_exchange_svc.registry.repository import PersonRecord
from servicekit.ids import new_id


def field_readers(
    record: PersonRecord, protector: IdentifierProtector
) -> dict[str, Callable[[], JsonValue]]:
    """Each field's value, read only when asked (the identity number is decrypted only then)."""
    return {
        "name": lambda: record.name,
        "id_number": lambda: protector.decrypt(
            record.id_number_sealed, lookup_hash=record.id_number_hash
        ),
        "sex": lambda: record.sex,
        "birth_date": lambda: record.birth_date.isoformat(),
        "ethnicity": lambda: record.ethnicity,
        "registered_address": lambda: record.registered_address,
        "registered_region": lambda: record.registered_region,
        "face_template": lambda: list(unpack_template(record.face_template)),
        "id_card_status": lambda: record.id_card_status,
    }


def new_row(
    id_number: str,
    values: Mapping[str, JsonValue],
    *,
    face_template: bytes,
    protector: IdentifierProtector,
    now: dt.datetime,
) -> dict[str, Any]:
    """A row for ``insert(PopulationRecord)``: the number sealed, found by its keyed hash."""
    lookup_hash = protector.lookup_hash(id_number)
    return {
        "id": new_id(),
        "id_number_hash": lookup_hash,
        "id_number_sealed": protector.encrypt(id_number, lookup_hash=lookup_hash),
        **stored_columns(values),
        "face_template": face_template,
        "updated_at": now,
    }


def stored_columns(values: Mapping[str, JsonValue]) -> dict[str, Any]:
    """The columns of a record's canonical values (but the face template, packed apart)."""
    return {
        "name": values["name"],
        "sex": values["sex"],
        "birth_date": dt.date.fromisoformat(str(values["birth_date"])),
        "ethnicity": values["ethnicity"],
        "registered_address": values["registered_address"],
        "registered_region": values["registered_region"],
        "id_card_status": values["id_card_status"],
    }


def packed_template(values: Mapping[str, JsonValue]) -> bytes:
    template = values["face_template"]
    assert isinstance(template, list)
    return pack_template([float(x) for x in template if isinstance(x, int | float)])
