"""The life-event rules (rules.toml), read and checked against the resources they name once, at
import: a rule that names an unknown resource or field fails the service's start, not a load."""

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_exchange_svc.resources.spec import HOSTED, POPULATION, ResourceSpec

#: ``offer``: the subject's own accounts.
SUBJECT = "subject"
#: The longest event type (the kit's outbox holds up to 128 characters).
MAX_TYPE_LENGTH = 64


class InvalidRule(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Becomes:
    field: str
    value: str


@dataclass(frozen=True, slots=True)
class Recent:
    """Only rows whose ``field`` (a date) lies within ``days`` before the load."""

    field: str
    days: int


@dataclass(frozen=True, slots=True)
class Due:
    """A date that comes due: the event is made once a row's ``field`` lies within
    ``within_days`` from today (found by the sweep, not by a load)."""

    field: str
    within_days: int

    def holds(self, values: Mapping[str, Any], *, today: dt.date) -> bool:
        try:
            when = dt.date.fromisoformat(str(values.get(self.field)))
        except ValueError:
            return False
        return today <= when <= today + dt.timedelta(days=self.within_days)


@dataclass(frozen=True, slots=True)
class ReachesAge:
    """An age the subject reaches (her birth date and sex read from her identity number): the
    age by the value of the row's ``by`` field and her sex (``ages``: ``"<value>.<sex>"`` or
    ``"<value>"``), the event made once that birthday lies within ``within_days`` before
    today (found by the sweep)."""

    by: str
    ages: Mapping[str, int]
    within_days: int

    def age_for(self, values: Mapping[str, Any], sex: str) -> int | None:
        value = str(values.get(self.by))
        return self.ages.get(f"{value}.{sex}", self.ages.get(value))

    def holds(self, reached_on: dt.date, *, today: dt.date) -> bool:
        return today - dt.timedelta(days=self.within_days) <= reached_on <= today


@dataclass(frozen=True, slots=True)
class LifeEventRule:
    type: str
    name: str
    resource: str
    #: The fields that tell one of the subject's rows from another.
    key: tuple[str, ...]
    #: What a delivery may carry, as the subscription's grant allows.
    fields: tuple[str, ...]
    becomes: Becomes | None = None
    recent: Recent | None = None
    due: Due | None = None
    reaches_age: ReachesAge | None = None
    #: Only rows whose fields hold these values (a sweep's rule: the pension rows still paid in).
    only: Mapping[str, str] | None = None
    #: Whose linked accounts are told, for an offer in their inbox (identity-svc): the
    #: subject's (``SUBJECT``), the person an identity-number field of the row names, or none.
    offer: str | None = None

    @property
    def swept(self) -> bool:
        """Whether the sweep makes its events (a date coming due, an age reached), rather than
        a load."""
        return self.due is not None or self.reaches_age is not None

    def selects(self, values: Mapping[str, Any]) -> bool:
        """Whether a row is one the sweep looks at (``only``)."""
        return all(str(values.get(name)) == value for name, value in (self.only or {}).items())

    def key_of(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values.get(name) for name in self.key)

    def holds(self, values: Mapping[str, Any], *, today: dt.date) -> bool:
        """Whether a row is in the state the event announces (any row, without ``becomes``),
        recently enough."""
        if self.becomes is not None and values.get(self.becomes.field) != self.becomes.value:
            return False
        if self.recent is None:
            return True
        try:
            when = dt.date.fromisoformat(str(values.get(self.recent.field)))
        except ValueError:
            return False
        return today - dt.timedelta(days=self.recent.days) <= when <= today


def _rule(raw: Mapping[str, Any], specs: Mapping[str, ResourceSpec]) -> LifeEventRule:
    event_type = str(raw["type"])
    if not event_type.startswith("life.") or len(event_type) > MAX_TYPE_LENGTH:
        raise InvalidRule(f"{event_type}: a life event's type is life.<what>, short")
    spec = specs.get(str(raw["resource"]))
    if spec is None or spec.hosting != "hosted" or spec.code == POPULATION.code:
        raise InvalidRule(f"{event_type}: names no hosted resource the rules can watch")
    names = {field.name for field in spec.fields}
    becomes = raw.get("becomes")
    recent = raw.get("recent")
    due = raw.get("due")
    reaches = raw.get("reaches_age")
    rule = LifeEventRule(
        type=event_type,
        name=str(raw["name"]),
        resource=spec.code,
        key=tuple(raw["key"]),
        fields=tuple(raw["fields"]),
        becomes=Becomes(str(becomes["field"]), str(becomes["value"])) if becomes else None,
        recent=Recent(str(recent["field"]), int(recent["days"])) if recent else None,
        due=Due(str(due["field"]), int(due["within_days"])) if due else None,
        reaches_age=ReachesAge(
            str(reaches["by"]),
            {str(key): int(age) for key, age in reaches["ages"].items()},
            int(reaches["within_days"]),
        )
        if reaches
        else None,
        only={str(name): str(value) for name, value in raw["only"].items()}
        if "only" in raw
        else None,
        offer=str(raw["offer"]) if "offer" in raw else None,
    )
    watched = [
        *rule.key,
        *([rule.becomes.field] if rule.becomes else []),
        *([rule.recent.field] if rule.recent else []),
        *([rule.due.field] if rule.due else []),
        *([rule.reaches_age.by] if rule.reaches_age else []),
        *(rule.only or {}),
    ]
    unknown = sorted({*watched, *rule.fields} - names)
    if unknown or not rule.key:
        raise InvalidRule(f"{event_type}: {spec.code} has no field {unknown or 'key'}")
    if any(spec.field(name).sealed for name in watched):
        raise InvalidRule(f"{event_type}: a key or watched field must not be sealed")
    if (rule.only or rule.reaches_age) and not rule.swept:
        raise InvalidRule(f"{event_type}: `only` and `reaches_age` are a sweep's")
    if rule.due is not None and rule.reaches_age is not None:
        raise InvalidRule(f"{event_type}: a date comes due, or an age is reached: one")
    if rule.offer not in (None, SUBJECT) and (
        rule.offer not in names or spec.field(rule.offer).type != "id_number"
    ):
        raise InvalidRule(f"{event_type}: offers to the subject or to an identity-number field")
    return rule


def load_rules(path: Path, specs: Mapping[str, ResourceSpec] = HOSTED) -> dict[str, LifeEventRule]:
    with path.open("rb") as source:
        document = tomllib.load(source)
    rules = [_rule(raw, specs) for raw in document["life_event"]]
    by_type = {rule.type: rule for rule in rules}
    if len(by_type) != len(rules):
        raise InvalidRule("an event type is named twice")
    return by_type


#: Every life event the exchange publishes, by type.
RULES: Mapping[str, LifeEventRule] = load_rules(Path(__file__).with_name("rules.toml"))


def rules_on(resource: str) -> list[LifeEventRule]:
    """The rules a load of the resource is checked against (those of dates coming due are the
    sweep's)."""
    return [rule for rule in RULES.values() if rule.resource == resource and not rule.swept]


def due_rules() -> list[LifeEventRule]:
    """The sweep's rules: dates coming due, ages reached."""
    return [rule for rule in RULES.values() if rule.swept]
