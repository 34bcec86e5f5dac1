"""Field values by type: what a provider's record may hold, in which canonical JSON form it is
stored and answered, how a match's claim compares with it, and the predicates a match can ask.

Pure functions of a field's spec. Canonical forms: dates ``YYYY-MM-DD``, months ``YYYY-MM``,
amounts a string with two decimals (``"200.00"``), identity numbers upper-case, booleans JSON
``true``/``false``; ``null`` for an empty nullable field.
"""

import datetime as dt
import functools
import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import JsonValue

from data_exchange_svc.identifiers import normalise_id_number, parse_id_number
from data_exchange_svc.resources.spec import FieldSpec
from servicekit.regions import InvalidRegionCode, RegionCode
from servicekit.resident_id import InvalidResidentId

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_INTEGER = re.compile(r"^-?\d{1,12}$")
_AMOUNT_LIMIT = Decimal(10) ** 12
_TEMPLATE_DIMENSIONS = 128
_MEMBERS_LIMIT = 64
_MEMBER_KEYS = frozenset({"name", "id_number", "relation_to_head"})


#: China keeps one offset all year: "today" (birth dates, ages, validity) is the date in Beijing.
_CHINA = dt.timezone(dt.timedelta(hours=8))


def today_in_china() -> dt.date:
    return dt.datetime.now(_CHINA).date()


class InvalidValue(ValueError):
    """A value (or a claim) that its field's type refuses; the message says why, never echoing
    the value, which may be personal."""


def _text(field: FieldSpec, raw: Any) -> str:
    if not isinstance(raw, str):
        raise InvalidValue("must be a string")
    text = raw.strip()
    if not text:
        raise InvalidValue("must not be empty")
    if len(text) > field.max_length:
        raise InvalidValue(f"at most {field.max_length} characters")
    return text


def _date(raw: Any) -> str:
    if not isinstance(raw, str) or not _DATE.match(raw):
        raise InvalidValue("a date is YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError as exc:
        raise InvalidValue("not a real date") from exc


def _month(raw: Any) -> str:
    match = _MONTH.match(raw) if isinstance(raw, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        raise InvalidValue("a month is YYYY-MM")
    return str(raw)


def _integer(field: FieldSpec, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidValue("must be an integer")
    if field.minimum is not None and raw < field.minimum:
        raise InvalidValue(f"at least {field.minimum}")
    if field.maximum is not None and raw > field.maximum:
        raise InvalidValue(f"at most {field.maximum}")
    return raw


def _amount(raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise InvalidValue("an amount is a number of yuan")
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise InvalidValue("an amount is a number of yuan") from exc
    if not amount.is_finite() or amount < 0 or amount >= _AMOUNT_LIMIT:
        raise InvalidValue("an amount is between 0 and 10^12 yuan")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise InvalidValue("an amount has at most two decimals")
    return f"{amount:.2f}"


@functools.lru_cache(maxsize=1 << 14)
def _is_region_code(text: str) -> bool:
    try:
        RegionCode.parse(text)
    except InvalidRegionCode:
        return False
    return True


def _region(raw: Any) -> str:
    if not isinstance(raw, str) or len(raw) not in (6, 12):
        raise InvalidValue("a region code has 6 or 12 digits")
    if not _is_region_code(raw):
        raise InvalidValue("not a region code")
    return raw


def _id_number(raw: Any, today: dt.date) -> str:
    if not isinstance(raw, str):
        raise InvalidValue("must be a string")
    try:
        return parse_id_number(raw, today=today).number
    except InvalidResidentId as exc:
        raise InvalidValue(f"not a valid identity number ({exc.reason})") from exc


def _members(field: FieldSpec, raw: Any, today: dt.date) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= _MEMBERS_LIMIT:
        raise InvalidValue(f"a list of 1 to {_MEMBERS_LIMIT} members")
    members = []
    for index, member in enumerate(raw):
        if not isinstance(member, dict) or set(member) != _MEMBER_KEYS:
            raise InvalidValue(f"member {index}: exactly name, id_number, relation_to_head")
        if member["relation_to_head"] not in (field.choices or ()):
            raise InvalidValue(f"member {index}: relation_to_head is not one of the choices")
        name = member["name"]
        if not isinstance(name, str) or not 0 < len(name.strip()) <= 64:
            raise InvalidValue(f"member {index}: a name of 1 to 64 characters")
        try:
            id_number = _id_number(member["id_number"], today)
        except InvalidValue as exc:
            raise InvalidValue(f"member {index}: {exc}") from exc
        members.append(
            {
                "name": name.strip(),
                "id_number": id_number,
                "relation_to_head": member["relation_to_head"],
            }
        )
    return members


def _face_template(raw: Any) -> list[float]:
    if not isinstance(raw, list) or len(raw) != _TEMPLATE_DIMENSIONS:
        raise InvalidValue(f"a list of {_TEMPLATE_DIMENSIONS} numbers")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in raw):
        raise InvalidValue(f"a list of {_TEMPLATE_DIMENSIONS} numbers")
    values = [float(x) for x in raw]
    if not all(math.isfinite(x) for x in values):
        raise InvalidValue("finite numbers only")
    if abs(math.sqrt(math.fsum(x * x for x in values)) - 1.0) > 1e-6:
        raise InvalidValue("a unit vector")
    return values


def parse_value(field: FieldSpec, raw: Any, *, today: dt.date) -> JsonValue:
    """The canonical form of a provider's value for ``field``; ``InvalidValue`` if refused."""
    if raw is None:
        if field.nullable:
            return None
        raise InvalidValue("required")
    match field.type:
        case "text":
            return _text(field, raw)
        case "date":
            return _date(raw)
        case "month":
            return _month(raw)
        case "integer":
            return _integer(field, raw)
        case "amount":
            return _amount(raw)
        case "boolean":
            if not isinstance(raw, bool):
                raise InvalidValue("must be true or false")
            return raw
        case "choice":
            if raw not in (field.choices or ()):
                raise InvalidValue("not one of the choices")
            return str(raw)
        case "region":
            return _region(raw)
        case "id_number":
            return _id_number(raw, today)
        case "household_members":
            members: JsonValue = _members(field, raw, today)  # type: ignore[assignment]
            return members
        case "face_template":
            template: JsonValue = _face_template(raw)  # type: ignore[assignment]
            return template
    raise InvalidValue("this field is not loaded: it is derived")


def parse_text(field: FieldSpec, text: str, *, today: dt.date) -> JsonValue:
    """The value of a flat file's cell (CSV): empty is null; numbers and booleans from text;
    structured values as JSON."""
    if text == "":
        return parse_value(field, None, today=today)
    raw: Any = text
    if field.type == "integer":
        if not _INTEGER.match(text):
            raise InvalidValue("must be an integer")
        raw = int(text)
    elif field.type == "boolean":
        if text not in ("true", "false"):
            raise InvalidValue("must be true or false")
        raw = text == "true"
    elif field.type in ("household_members", "face_template"):
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise InvalidValue("not JSON") from exc
    return parse_value(field, raw, today=today)


def claim_holds(field: FieldSpec, stored: JsonValue, claim: str) -> bool:
    """Whether a claimed value equals a stored one (both trimmed), compared as the field's type:
    numbers as numbers, identity numbers normalised. A claim about an empty value holds only if
    it is empty too."""
    claimed = claim.strip()
    if stored is None:
        return claimed == ""
    match field.type:
        case "integer":
            return bool(_INTEGER.match(claimed)) and int(claimed) == stored
        case "amount":
            try:
                return Decimal(claimed) == Decimal(str(stored))
            except InvalidOperation:
                return False
        case "boolean":
            return claimed == ("true" if stored else "false")
        case "id_number" | "subject":
            return normalise_id_number(claimed) == str(stored)
    return claimed == str(stored).strip()


def check_claim(name: str, value_type: str, claim: str) -> None:
    """A predicate's claim must be one it can answer (checked before anything is looked up)."""
    claimed = claim.strip()
    if value_type == "age_at_least" and not (
        claimed.isascii() and claimed.isdecimal() and int(claimed) <= 150
    ):
        raise InvalidValue(f"{name}: a whole number of years from 0 to 150")
    if value_type == "currently_valid" and claimed not in ("true", "false"):
        raise InvalidValue(f"{name}: true or false")


def age_on(birth_date: dt.date, today: dt.date) -> int:
    """Completed years of age. Someone born on 29 February turns a year older on 1 March in a
    common year (the day after 28 February, when the anniversary does not exist)."""
    had_birthday = (today.month, today.day) >= (birth_date.month, birth_date.day)
    return today.year - birth_date.year - (0 if had_birthday else 1)


def valid_on(row: Mapping[str, JsonValue], today: dt.date) -> bool:
    """A certificate is valid on a day if its status is valid and the day is within its period
    (no end date: valid for the long term)."""
    until = row.get("valid_until")
    return (
        row.get("certificate_status") == "valid"
        and dt.date.fromisoformat(str(row["valid_from"])) <= today
        and (until is None or today <= dt.date.fromisoformat(str(until)))
    )


def predicate_holds(
    field: FieldSpec, row: Mapping[str, JsonValue], claim: str, *, today: dt.date
) -> bool:
    """The answer of a predicate field for one row; the claim has passed ``check_claim``."""
    claimed = claim.strip()
    if field.type == "age_at_least":
        return age_on(dt.date.fromisoformat(str(row["birth_date"])), today) >= int(claimed)
    if field.type == "currently_valid":
        return valid_on(row, today) == (claimed == "true")
    raise ValueError(f"{field.name} is not a predicate")
