"""Reading one person's fields out of the registry, for a granted call or a match."""

from collections.abc import Callable, Sequence

from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.models import PopulationRecord
from data_exchange_svc.registry.faces import unpack_template

FieldValue = str | list[float]


def _stored_readers(record: PopulationRecord) -> dict[str, Callable[[], FieldValue]]:
    """Every field but the identity number, which only a key can read."""
    return {
        "name": lambda: record.name,
        "sex": lambda: record.sex,
        "birth_date": lambda: record.birth_date.isoformat(),
        "ethnicity": lambda: record.ethnicity,
        "registered_address": lambda: record.registered_address,
        "registered_region": lambda: record.registered_region,
        "face_template": lambda: unpack_template(record.face_template),
        "id_card_status": lambda: record.id_card_status,
    }


def field_values(
    record: PopulationRecord, fields: Sequence[str], *, protector: IdentifierProtector
) -> dict[str, FieldValue]:
    """Only the fields asked for are read (the identity number is decrypted only when asked)."""
    readers = _stored_readers(record)
    readers["id_number"] = lambda: protector.decrypt(
        record.id_number_sealed, lookup_hash=record.id_number_hash
    )
    return {field: readers[field]() for field in fields}


def claims_hold(record: PopulationRecord, claims: dict[str, str]) -> bool:
    """Every claimed value equals the registry's, both trimmed of surrounding spaces. The
    caller has checked that each claimed field is a matchable (textual) one."""
    readers = _stored_readers(record)
    return all(str(readers[field]()).strip() == value.strip() for field, value in claims.items())
