"""CloudEvents 1.0 in structured-mode JSON: the envelope a producer writes and the pydantic
model a consumer reads it with. An event's ``data`` carries ids, never personal data."""

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeVar

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from servicekit.resident_id import check_character

#: The media type of a CloudEvent in structured mode (CloudEvents JSON format, section 3.1).
CLOUDEVENTS_JSON = "application/cloudevents+json"

DataT = TypeVar("DataT")


class CloudEvent(BaseModel, Generic[DataT]):
    """An incoming CloudEvent, for a consumer's endpoint: ``event: CloudEvent[CaseCompleted]``
    validates the envelope and the ``data`` the consumer expects (422 otherwise). Extension
    attributes are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    #: The producers of this platform make UUIDv7 ids: the inbox's key.
    id: uuid.UUID
    source: str = Field(min_length=1, max_length=300)
    type: str = Field(min_length=1, max_length=128)
    subject: str | None = Field(default=None, max_length=200)
    time: AwareDatetime | None = None
    datacontenttype: str | None = None
    data: DataT


class PersonalDataInEvent(ValueError):
    """An event's data names a personal field or holds an identity number: events carry ids,
    and the consumer asks the owner for anything more, with its own authority."""


#: Field names that say personal data. The check catches slips, not intent: the rule is ids only.
PERSONAL_FIELDS = frozenset(
    {
        "name",
        "full_name",
        "real_name",
        "id_number",
        "id_card",
        "resident_id",
        "phone",
        "phone_number",
        "mobile",
        "email",
        "address",
        "birth_date",
        "date_of_birth",
        "face_template",
        "password",
    }
)
_RESIDENT_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")


def _is_resident_id(value: str) -> bool:
    return bool(_RESIDENT_ID_SHAPE.match(value)) and check_character(value[:17]) == value[17]


def refuse_personal_data(data: Any, path: str = "data") -> None:
    """Raise ``PersonalDataInEvent`` (naming where, never what) if ``data`` has a field named
    like personal data or a string that is a citizen identity number, at any depth."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            where = f"{path}.{key}"
            if str(key).lower() in PERSONAL_FIELDS:
                raise PersonalDataInEvent(f"{where}: events carry ids, not personal data")
            refuse_personal_data(value, where)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            refuse_personal_data(value, f"{path}[{index}]")
    elif isinstance(data, str) and _is_resident_id(data):
        raise PersonalDataInEvent(f"{path}: an identity number; events carry ids only")


def structured_envelope(
    *,
    event_id: uuid.UUID,
    source: str,
    type: str,
    subject: str,
    time: dt.datetime,
    data: Mapping[str, Any],
) -> str:
    """The event as posted: structured-mode JSON, ``time`` in RFC 3339 UTC."""
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": type,
        "subject": subject,
        "time": time.astimezone(dt.UTC),
        "datacontenttype": "application/json",
        "data": data,
    }
    return orjson.dumps(envelope, option=orjson.OPT_UTC_Z).decode()
