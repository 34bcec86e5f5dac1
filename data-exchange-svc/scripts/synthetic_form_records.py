"""What application forms ask that the earlier stages' registries did not hold, drawn for the
same people and enterprises (stage 4, with a seed of its own, so that it changes nothing the
earlier stages drew):

- contact information (the mobile number and the mailing address a resident or an enterprise
  left with the platform's account, as the unified identity platform keeps them): residents of
  16 and older have a mobile number (younger ones none); the mailing address is a street address
  in the household's village (an enterprise's: its registered address);
- social security cards: everyone insured (everyone has medical insurance) holds one, with the
  bank account the card carries (pensions and benefits are paid to it), issued by the county;
- children's birth certificates, as each parent sees them: every birth certificate mirrored to
  the mother and to the father (a newborn's parents file for the child before the child has
  any record of its own);
- traffic violations get the number of their record (违法记录编号), counted per city.

Nothing here describes a real person, account or enterprise.
"""

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from synthetic_families import Families, Person
from synthetic_people import SYNTHETIC_MARK
from synthetic_records import PLATE_LETTERS, ROADS, Records

FORM_RECORDS_SEED = 20261207
#: Younger residents have no mobile number of their own on record.
MOBILE_FROM_AGE = 16
MOBILE_PREFIXES = ("133", "135", "137", "139", "150", "152", "158", "177", "181", "187", "189")
#: The banks that issue Zhejiang's social security cards, with their card number prefixes.
CARD_BANKS = (
    ("中国工商银行", "621226"),
    ("中国农业银行", "622848"),
    ("中国银行", "621785"),
    ("中国建设银行", "621700"),
    ("浙江农商银行", "621058"),
)


@dataclass
class FormRecords:
    contacts: list[dict[str, str]] = field(default_factory=list)
    social_security_cards: list[dict[str, str]] = field(default_factory=list)
    child_birth_certificates: list[dict[str, str]] = field(default_factory=list)


class FormRecordBuilder:
    def __init__(self, people: list[Person], families: Families, records: Records) -> None:
        self.rng = random.Random(FORM_RECORDS_SEED)
        self.people = people
        self.families = families
        self.records = records
        self.used: set[str] = set()
        self.out = FormRecords()

    def fresh(self, prefix: str, length: int) -> str:
        while True:
            text = prefix + "".join(
                self.rng.choice("0123456789") for _ in range(length - len(prefix))
            )
            if text not in self.used:
                self.used.add(text)
                return text

    def street_address(self, address: str) -> str:
        road = self.rng.choice(ROADS)
        return f"{address.removesuffix(SYNTHETIC_MARK)}{road}{self.rng.randint(1, 399)}号" + (
            SYNTHETIC_MARK
        )

    def contacts(self) -> None:
        for household in self.families.households:
            for person, _ in household.members:
                mobile = (
                    self.fresh(self.rng.choice(MOBILE_PREFIXES), 11)
                    if person.age() >= MOBILE_FROM_AGE
                    else ""
                )
                self.out.contacts.append(
                    {
                        "id_number": person.id_number,
                        "credit_code": "",
                        "mobile_phone": mobile,
                        "mailing_address": self.street_address(household.head.address),
                    }
                )
        for enterprise in self.records.enterprises:
            self.out.contacts.append(
                {
                    "id_number": "",
                    "credit_code": enterprise["credit_code"],
                    "mobile_phone": self.fresh(self.rng.choice(MOBILE_PREFIXES), 11),
                    "mailing_address": enterprise["registered_address"],
                }
            )

    def social_security_cards(self) -> None:
        insured = {row["id_number"] for row in self.records.social_security}
        for person in self.people:
            if person.id_number not in insured:
                continue
            bank, prefix = self.rng.choice(CARD_BANKS)
            self.out.social_security_cards.append(
                {
                    "id_number": person.id_number,
                    "card_number": self.fresh(person.county[:2] + "A", 9),
                    "bank_account": self.fresh(prefix, 19),
                    "issuing_bank": bank,
                    "card_status": "normal",
                    "issuing_region": person.county,
                }
            )

    def child_birth_certificates(self) -> None:
        for birth in self.families.births:
            for parent in (birth.mother, birth.father):
                self.out.child_birth_certificates.append(
                    {
                        "id_number": parent.id_number,
                        "certificate_number": birth.certificate_number,
                        "child_name": birth.child.name,
                        "child_sex": birth.child.sex,
                        "child_birth_date": birth.child.row["birth_date"],
                        "birth_region": birth.region,
                        "hospital_name": birth.hospital,
                    }
                )

    def build(self) -> FormRecords:
        self.contacts()
        self.social_security_cards()
        self.child_birth_certificates()
        return self.out


def violation_rows(violations: Iterable[dict[str, str]]) -> Iterable[dict[str, str]]:
    """The violations with the number of their record: the city's code, the year, and the
    record's place in the city's count (no draw: the numbers follow the rows)."""
    city_of_letter = {letter: city for city, letter in PLATE_LETTERS.items()}
    counted: dict[tuple[str, str], int] = {}
    for row in violations:
        key = (city_of_letter[row["plate_number"][1]], row["violation_date"][:4])
        counted[key] = counted.get(key, 0) + 1
        yield {**row, "record_number": f"{key[0]}{key[1]}{counted[key]:06d}"}


def build_form_records(people: list[Person], families: Families, records: Records) -> FormRecords:
    return FormRecordBuilder(people, families, records).build()
