"""The table of what each life event offers (``offers.toml`` beside this file), as values."""

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

#: What confirming an offer files: a catalogue bundle (one application of several items) or one
#: catalogue item.
FilingKind = Literal["bundle", "item"]


@dataclass(frozen=True)
class Filing:
    kind: FilingKind
    code: str


@dataclass(frozen=True)
class Offering:
    """What one type of life event offers."""

    event_type: str
    files: Filing
    expires_after: dt.timedelta
    title: str
    summary: str


@dataclass(frozen=True)
class OfferRules:
    offerings: dict[str, Offering]
    #: How long the consents her confirmation gives last.
    consent_term: dt.timedelta

    def offering_for(self, event_type: str) -> Offering | None:
        return self.offerings.get(event_type)


def _offering(event_type: str, row: dict[str, Any]) -> Offering:
    codes: dict[FilingKind, Any] = {"bundle": row.get("bundle_code"), "item": row.get("item_code")}
    given = [(kind, code) for kind, code in codes.items() if code is not None]
    if len(given) != 1:
        raise ValueError(f"{event_type}: name exactly one of bundle_code and item_code")
    kind, code = given[0]
    return Offering(
        event_type=event_type,
        files=Filing(kind=kind, code=str(code)),
        expires_after=dt.timedelta(days=int(row["expires_after_days"])),
        title=str(row["title"]),
        summary=str(row["summary"]),
    )


def load_rules(path: Path) -> OfferRules:
    with path.open("rb") as source:
        table = tomllib.load(source)
    consent_days = int(table.pop("consent_days"))
    return OfferRules(
        offerings={
            event_type: _offering(event_type, row)
            for event_type, row in table.items()
            if isinstance(row, dict)
        },
        consent_term=dt.timedelta(days=consent_days),
    )


#: The offers shipped.
RULES = load_rules(Path(__file__).with_name("offers.toml"))
