"""Resident identity cards (stage 5, with a seed of its own, so that it changes nothing the
earlier stages drew): the card each resident holds on the reference date, as public security
issued it. The first at 16, a few months after the birthday; each renewal applied for in the
months before the card it replaces expired, its term set by the holder's age at issue as the
Resident Identity Card Law sets it (10 years under 26, 20 under 46, else for good: 长期). Every
card is valid on the reference date (the population's card status is ``valid``), so some fall
due in the months after it.

Nothing here describes a real person or card.
"""

import datetime as dt
import random
from collections.abc import Iterable

from synthetic_families import REFERENCE_DATE, Person

ID_CARDS_SEED = 20261208


def _years_later(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _age_on(person: Person, day: dt.date) -> int:
    birth = person.birth
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _term_years(age_at_issue: int) -> int | None:
    """The card's term by the holder's age at issue: 10 years under 26, 20 under 46, else for
    good."""
    if age_at_issue < 26:
        return 10
    if age_at_issue < 46:
        return 20
    return None


def card_of(person: Person, rng: random.Random) -> dict[str, str]:
    """The card valid on the reference date: the first at 16, each renewal applied for in the
    months before the card it replaces expired."""
    issued = _years_later(person.birth, 16) + dt.timedelta(days=rng.randrange(30, 200))
    while True:
        years = _term_years(_age_on(person, issued))
        valid_until = None if years is None else _years_later(issued, years)
        if valid_until is None or valid_until >= REFERENCE_DATE:
            break
        issued = valid_until - dt.timedelta(days=rng.randrange(10, 120))
    return {
        "id_number": person.id_number,
        "issued_on": issued.isoformat(),
        "valid_until": valid_until.isoformat() if valid_until is not None else "",
        "issuing_department": f"{person.county}-public_security",
    }


def build_id_cards(people: Iterable[Person]) -> list[dict[str, str]]:
    rng = random.Random(ID_CARDS_SEED)
    return [card_of(person, rng) for person in people]
