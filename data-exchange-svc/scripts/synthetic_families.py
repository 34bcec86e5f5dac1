"""Families around the base population: relatives appended to it (never changing a base row),
households, marriage registrations and birth medical certificates, all consistent:

- every member of a household is registered at its head's address (and their identity number
  carries that county); ex-spouses live elsewhere in the same county;
- marriages: the man at least 22, the woman at least 20 on the day, after 1 May 1950; a divorce
  at least a year later; a remarriage after it;
- children are born after their parents' marriage, to a mother of 20 to 42; a certificate for
  every child born since 1 January 1996 (when the birth medical certificate began); children
  who would be 30 or older are not modelled (they have left the household);
- the demo citizen's family is fixed: her son, his wife and their son (her grandson) live with
  her; the grandson represents the first enterprise of the business registry.

Ages and dates are as of REFERENCE_DATE, the data's snapshot. Nobody here is a real person.
"""

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field

from synthetic_people import (
    ETHNICITIES,
    SYNTHETIC_MARK,
    Village,
    address_of,
    given_name,
    surname,
)

from servicekit.regions import RegionCode
from servicekit.resident_id import make_resident_id

REFERENCE_DATE = dt.date(2026, 11, 1)
FAMILY_SEED = 20261101
MARRIAGE_LAW = dt.date(1950, 5, 1)
BIRTH_CERTIFICATES_FROM = dt.date(1996, 1, 1)
MARRIAGE_AGE = {"male": 22, "female": 20}
OLDEST_MOTHER = 42
YOUNGEST_MOTHER = 20
LEFT_HOME_AGE = 30
HOSPITAL_KINDS = ("人民医院", "妇幼保健院", "中医院", "第二人民医院")


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later; 29 February becomes 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - (0 if (day.month, day.day) >= (birth.month, birth.day) else 1)


@dataclass(frozen=True)
class Person:
    row: dict[str, str]

    @property
    def id_number(self) -> str:
        return self.row["id_number"]

    @property
    def name(self) -> str:
        return self.row["name"]

    @property
    def sex(self) -> str:
        return self.row["sex"]

    @property
    def birth(self) -> dt.date:
        return dt.date.fromisoformat(self.row["birth_date"])

    @property
    def region(self) -> str:
        return self.row["registered_region"]

    @property
    def county(self) -> str:
        return self.row["registered_region"][:6]

    @property
    def address(self) -> str:
        return self.row["registered_address"]

    def age(self, day: dt.date = REFERENCE_DATE) -> int:
        return age_on(self.birth, day)


@dataclass
class Household:
    number: str
    #: (person, relation to the head), the head first.
    members: list[tuple[Person, str]]

    @property
    def head(self) -> Person:
        return self.members[0][0]


@dataclass(frozen=True)
class Marriage:
    husband: Person
    wife: Person
    registered_on: dt.date
    divorced_on: dt.date | None
    #: The county whose civil-affairs bureau registered it.
    region: str


@dataclass(frozen=True)
class Birth:
    child: Person
    mother: Person
    father: Person
    certificate_number: str
    hospital: str
    region: str


@dataclass
class Families:
    appended: list[dict[str, str]] = field(default_factory=list)
    households: list[Household] = field(default_factory=list)
    marriages: list[Marriage] = field(default_factory=list)
    births: list[Birth] = field(default_factory=list)


class FamilyBuilder:
    def __init__(
        self, base: list[dict[str, str]], villages: list[Village], names: dict[str, str]
    ) -> None:
        self.rng = random.Random(FAMILY_SEED)
        self.names = names
        self.villages = {village.code: village for village in villages}
        self.by_county: dict[str, list[Village]] = {}
        for village in villages:
            self.by_county.setdefault(village.county_code, []).append(village)
        self.taken = {row["id_number"] for row in base}
        self.household_serials: Counter[str] = Counter()
        self.families = Families()

    # --- people -------------------------------------------------------------------------

    def person(
        self,
        *,
        sex: str,
        birth: dt.date,
        village: Village,
        family_name: str | None = None,
        name: str | None = None,
    ) -> Person:
        county = RegionCode.parse(village.county_code)
        while True:
            # The order code's last digit is odd for men, even for women.
            sequence = self.rng.randrange(1, 500) * 2 - (1 if sex == "male" else 0)
            id_number = make_resident_id(county, birth, sequence)
            if id_number not in self.taken:
                break
        self.taken.add(id_number)
        names = [name for name, _ in ETHNICITIES]
        weights = [weight for _, weight in ETHNICITIES]
        row = {
            "id_number": id_number,
            "name": name or (family_name or surname(self.rng)) + given_name(self.rng, sex),
            "sex": sex,
            "birth_date": birth.isoformat(),
            "ethnicity": self.rng.choices(names, weights=weights)[0],
            "registered_region": village.code,
            "registered_address": address_of(village, self.names),
            "id_card_status": "valid",
            "face_seed": str(self.rng.randrange(1, 2**31)),
        }
        self.families.appended.append(row)
        return Person(row)

    def day_between(self, first: dt.date, last: dt.date) -> dt.date:
        return first + dt.timedelta(days=self.rng.randrange((last - first).days + 1))

    # --- events -------------------------------------------------------------------------

    def household(self, members: list[tuple[Person, str]]) -> None:
        county = members[0][0].county
        self.household_serials[county] += 1
        number = f"{county}{self.household_serials[county]:06d}"
        self.families.households.append(Household(number, members))

    def wedding_day(
        self,
        husband_birth: dt.date,
        wife_birth: dt.date,
        latest: dt.date,
        not_before: dt.date = MARRIAGE_LAW,
    ) -> dt.date | None:
        """A day both may marry on, early rather than late; None if there is none by
        ``latest``."""
        earliest = max(
            add_years(husband_birth, MARRIAGE_AGE["male"]),
            add_years(wife_birth, MARRIAGE_AGE["female"]),
            not_before,
        )
        if earliest > latest:
            return None
        delay = int(self.rng.expovariate(1 / (3 * 365)))
        return min(earliest + dt.timedelta(days=delay), latest)

    def marry(
        self, husband: Person, wife: Person, day: dt.date, divorced_on: dt.date | None = None
    ) -> None:
        self.families.marriages.append(Marriage(husband, wife, day, divorced_on, husband.county))

    def certify_birth(self, child: Person, mother: Person, father: Person) -> None:
        if child.birth < BIRTH_CERTIFICATES_FROM:
            return
        county = RegionCode.parse(mother.county)
        city = county.parent
        assert city is not None
        kind = self.rng.choice(HOSPITAL_KINDS)
        hospital = self.names[city.official] + self.names[county.official] + kind + SYNTHETIC_MARK
        number = f"N{len(self.families.births) + 1:09d}"
        self.families.births.append(Birth(child, mother, father, number, hospital, mother.county))

    def children(
        self, father: Person, mother: Person, married_on: dt.date, village: Village
    ) -> list[Person]:
        """0 to 3 children of the marriage who still live at home."""
        wanted = self.rng.choices((0, 1, 2, 3), weights=(12, 45, 33, 10))[0]
        born: list[Person] = []
        earliest = max(
            married_on + dt.timedelta(days=300), add_years(mother.birth, YOUNGEST_MOTHER)
        )
        latest = min(add_years(mother.birth, OLDEST_MOTHER), REFERENCE_DATE - dt.timedelta(days=30))
        for _ in range(wanted):
            if earliest > latest:
                break
            span = min((latest - earliest).days, 6 * 365)
            birth = earliest + dt.timedelta(days=self.rng.randrange(span + 1))
            earliest = birth + dt.timedelta(days=400)
            if age_on(birth, REFERENCE_DATE) >= LEFT_HOME_AGE:
                continue
            sex = "male" if self.rng.random() < 0.52 else "female"
            child = self.person(sex=sex, birth=birth, village=village, family_name=father.name[0])
            self.certify_birth(child, mother, father)
            born.append(child)
        return born

    # --- families -----------------------------------------------------------------------

    def demo_family(self, grandmother: Person) -> None:
        """The demo citizen lives with her son, his wife and their son (b. 1998)."""
        village = self.villages[grandmother.region]
        son = self.person(sex="male", birth=dt.date(1975, 8, 21), village=village, name="林建华")
        wife = self.person(sex="female", birth=dt.date(1976, 4, 2), village=village, name="陈丽娟")
        self.marry(son, wife, dt.date(1997, 10, 1))
        grandson = self.person(
            sex="male", birth=dt.date(1998, 7, 16), village=village, name="林浩宇"
        )
        self.certify_birth(grandson, wife, son)
        self.household(
            [(grandmother, "head"), (son, "son"), (wife, "daughter_in_law"), (grandson, "grandson")]
        )

    def with_parents(self, child: Person) -> bool:
        """A young adult living with parents (and perhaps a sibling)."""
        village = self.villages[child.region]
        father_birth = child.birth - dt.timedelta(days=self.rng.randrange(23 * 365, 38 * 365))
        mother_birth = child.birth - dt.timedelta(days=self.rng.randrange(21 * 365, 36 * 365))
        latest_wedding = min(
            child.birth - dt.timedelta(days=280), add_years(mother_birth, OLDEST_MOTHER - 1)
        )
        married_on = self.wedding_day(father_birth, mother_birth, latest_wedding)
        if married_on is None or age_on(mother_birth, child.birth) > OLDEST_MOTHER:
            return False
        family_name = child.name[0]
        father = self.person(
            sex="male", birth=father_birth, village=village, family_name=family_name
        )
        mother = self.person(sex="female", birth=mother_birth, village=village)
        self.marry(father, mother, married_on)
        self.certify_birth(child, mother, father)
        children = [child]
        if self.rng.random() < 0.35:
            gap = dt.timedelta(days=self.rng.randrange(500, 8 * 365))
            birth = child.birth + gap if self.rng.random() < 0.5 else child.birth - gap
            if (
                married_on + dt.timedelta(days=280) <= birth <= REFERENCE_DATE
                and YOUNGEST_MOTHER <= age_on(mother_birth, birth) <= OLDEST_MOTHER
                and age_on(birth, REFERENCE_DATE) < LEFT_HOME_AGE
            ):
                sex = "male" if self.rng.random() < 0.52 else "female"
                sibling = self.person(
                    sex=sex, birth=birth, village=village, family_name=family_name
                )
                self.certify_birth(sibling, mother, father)
                children.append(sibling)
        self.household(_parents_and_children(self.rng, father, mother, children))
        return True

    def spouse_for(
        self, person: Person, latest: dt.date, not_before: dt.date = MARRIAGE_LAW
    ) -> tuple[Person, dt.date] | None:
        """A spouse of plausible age from the same county, and the wedding day; the new
        person is registered at ``person``'s address. Nobody is made if no day fits."""
        gap = dt.timedelta(days=self.rng.randrange(-2 * 365, 6 * 365))
        husband_birth = person.birth if person.sex == "male" else person.birth - gap
        wife_birth = person.birth if person.sex == "female" else person.birth + gap
        day = self.wedding_day(husband_birth, wife_birth, latest, not_before)
        if day is None:
            return None
        spouse_sex = "female" if person.sex == "male" else "male"
        spouse_birth = wife_birth if spouse_sex == "female" else husband_birth
        spouse = self.person(
            sex=spouse_sex, birth=spouse_birth, village=self.villages[person.region]
        )
        return spouse, day

    def married_adult(self, person: Person) -> bool:
        """A married (perhaps remarried, or divorced) adult: their household, their marriages."""
        current_from = MARRIAGE_LAW
        if person.age() >= 30 and self.rng.random() < 0.10:
            # An earlier marriage ended in divorce; the former spouse lives elsewhere in the
            # county, alone.
            latest = REFERENCE_DATE - dt.timedelta(days=3 * 365)
            found = self.spouse_for(person, latest)
            if found is None:
                return False
            former, married_on = found
            elsewhere = self.rng.choice(self.by_county[person.county[:6]])
            former.row["registered_region"] = elsewhere.code
            former.row["registered_address"] = address_of(elsewhere, self.names)
            divorced_on = self.day_between(
                married_on + dt.timedelta(days=365),
                min(married_on + dt.timedelta(days=8 * 365), REFERENCE_DATE),
            )
            husband, wife = (person, former) if person.sex == "male" else (former, person)
            self.marry(husband, wife, married_on, divorced_on)
            self.household([(former, "head")])
            if self.rng.random() < 0.4:
                self.household([(person, "head")])
                return True
            current_from = divorced_on + dt.timedelta(days=180)
        found = self.spouse_for(person, REFERENCE_DATE, current_from)
        if found is None:
            return False
        spouse, married_on = found
        husband, wife = (person, spouse) if person.sex == "male" else (spouse, person)
        self.marry(husband, wife, married_on)
        children = self.children(husband, wife, married_on, self.villages[person.region])
        self.household(_parents_and_children(self.rng, husband, wife, children))
        return True

    def build(self, base: list[dict[str, str]]) -> Families:
        people = [Person(row) for row in base]
        self.demo_family(people[0])
        for person in people[1:]:
            if (
                person.birth >= BIRTH_CERTIFICATES_FROM
                and self.rng.random() < 0.6
                and self.with_parents(person)
            ):
                continue
            if self.rng.random() < 0.68 and self.married_adult(person):
                continue
            self.household([(person, "head")])
        return self.families


def _parents_and_children(
    rng: random.Random, father: Person, mother: Person, children: list[Person]
) -> list[tuple[Person, str]]:
    """The household of a couple: the husband heads most, the wife some."""
    husband_heads = rng.random() < 0.8
    head, spouse = (father, mother) if husband_heads else (mother, father)
    members = [(head, "head"), (spouse, "spouse")]
    members += [(child, "son" if child.sex == "male" else "daughter") for child in children]
    return members


def build_families(
    base: list[dict[str, str]], villages: list[Village], names: dict[str, str]
) -> Families:
    return FamilyBuilder(base, villages, names).build(base)
