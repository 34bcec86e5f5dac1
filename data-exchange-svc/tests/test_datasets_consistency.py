"""The committed synthetic datasets agree with the population and with each other: the same
people, at plausible ages, at the same addresses. Checked on the files, as the seed loads them.
"""

import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from data_exchange_svc.datasets.files import dataset_file, read_dataset
from data_exchange_svc.datasets.records import check_records
from data_exchange_svc.identifiers import parse_credit_code
from data_exchange_svc.registry.dataset import PersonRow
from data_exchange_svc.resources.spec import HOSTED, POPULATION

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
#: The data's snapshot: ages and validity in the files are as of this day.
SNAPSHOT = dt.date(2026, 11, 1)
MARK = "（合成数据）"
CITY_PLATE_LETTERS = {
    "3301": "A",
    "3302": "B",
    "3303": "C",
    "3304": "F",
    "3305": "E",
    "3306": "D",
    "3307": "G",
    "3308": "H",
    "3309": "L",
    "3310": "J",
    "3311": "K",
}

Rows = Any


def age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.fixture(scope="module")
def people(population: list[PersonRow]) -> dict[str, PersonRow]:
    return {person.id_number: person for person in population}


#: Hosted resources of which nothing is committed: providers load them as they happen.
LOADED_AS_THEY_HAPPEN = {"death_registration"}


@pytest.mark.parametrize(
    "code",
    [
        code
        for code, spec in HOSTED.items()
        if code != POPULATION.code
        and spec.hosting == "hosted"
        and code not in LOADED_AS_THEY_HAPPEN
    ],
)
def test_every_committed_dataset_loads_as_a_providers_batch_would(code: str) -> None:
    path = dataset_file(DATA_DIR, code)
    assert path is not None
    subjects, errors = check_records(HOSTED[code], read_dataset(path), today=SNAPSHOT)
    assert errors == []
    assert subjects


def test_everyone_belongs_to_exactly_one_household_at_the_heads_address(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    rows = dataset_rows("household_registration")
    assert Counter(row["id_number"] for row in rows) == Counter(people.keys())
    by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_number[row["household_number"]].append(row)
    for number, members in by_number.items():
        head = people[members[0]["head_id_number"]]
        assert number.startswith(head.registered_region[:6])
        assert [row["relation_to_head"] for row in members].count("head") == 1
        listed = members[0]["members"]
        assert listed[0] == {
            "name": head.name,
            "id_number": head.id_number,
            "relation_to_head": "head",
        }
        assert {member["id_number"] for member in listed} == {row["id_number"] for row in members}
        for row in members:
            person = people[row["id_number"]]
            assert row["members"] == listed
            assert row["head_name"] == head.name
            assert row["household_address"] == head.registered_address == person.registered_address
            assert row["household_region"] == head.registered_region == person.registered_region
            assert person.registered_address.endswith(MARK)
            relation = row["relation_to_head"]
            if relation in ("son", "daughter", "grandson", "granddaughter"):
                assert person.sex == ("male" if relation in ("son", "grandson") else "female")
                assert person.birth_date > head.birth_date
            if relation == "spouse":
                assert person.sex != head.sex


def test_marriages_are_between_people_of_age_mirrored_for_both_spouses(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    rows = dataset_rows("marriage_registration")
    current = Counter(row["id_number"] for row in rows if row["marital_status"] == "married")
    assert max(current.values()) == 1
    mirrored = {(row["id_number"], row["spouse_id_number"], row["registered_on"]) for row in rows}
    for row in rows:
        subject, spouse = people[row["id_number"]], people[row["spouse_id_number"]]
        assert (spouse.id_number, subject.id_number, row["registered_on"]) in mirrored
        assert row["spouse_name"] == spouse.name
        assert subject.sex != spouse.sex
        married_on = day(row["registered_on"])
        husband, wife = (subject, spouse) if subject.sex == "male" else (spouse, subject)
        assert age(husband.birth_date, married_on) >= 22
        assert age(wife.birth_date, married_on) >= 20
        assert dt.date(1950, 5, 1) <= married_on <= SNAPSHOT
        assert row["registering_region"] == husband.registered_region[:6]
        if row["marital_status"] == "divorced":
            assert married_on + dt.timedelta(days=365) <= day(row["divorced_on"]) <= SNAPSHOT
        else:
            assert row["divorced_on"] == ""
            # Married couples live together (unless one of them remarried after a divorce).
            assert subject.registered_address == spouse.registered_address


def test_births_are_certified_since_1996_to_married_parents_of_plausible_age(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    marriages = {
        (row["id_number"], row["spouse_id_number"]): day(row["registered_on"])
        for row in dataset_rows("marriage_registration")
    }
    rows = dataset_rows("birth_certificate")
    assert len({row["certificate_number"] for row in rows}) == len(rows)
    for row in rows:
        child = people[row["id_number"]]
        mother, father = people[row["mother_id_number"]], people[row["father_id_number"]]
        assert (row["child_name"], row["child_sex"]) == (child.name, child.sex)
        assert row["birth_date"] == child.birth_date.isoformat()
        assert child.birth_date >= dt.date(1996, 1, 1)
        assert (mother.sex, father.sex) == ("female", "male")
        assert (row["mother_name"], row["father_name"]) == (mother.name, father.name)
        assert 20 <= age(mother.birth_date, child.birth_date) <= 42
        assert age(father.birth_date, child.birth_date) >= 22
        assert marriages[(father.id_number, mother.id_number)] < child.birth_date
        assert row["hospital_name"].endswith(MARK)


def test_pensions_are_paid_only_past_retirement_age_and_contributions_fit_a_working_life(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    rows = dataset_rows("social_security_contribution")
    assert (
        Counter((row["id_number"], row["insurance_type"]) for row in rows).most_common(1)[0][1] == 1
    )
    for row in rows:
        person = people[row["id_number"]]
        if row["insurance_type"] == "pension" and row["insured_status"] == "retired":
            retirement_age = 55 if (row["scheme"], person.sex) == ("employee", "female") else 60
            assert age(person.birth_date, SNAPSHOT) >= retirement_age
        if row["insurance_type"] == "pension":
            assert age(person.birth_date, SNAPSHOT) >= 18
        months = int(row["months_contributed"])
        if row["last_contribution_month"]:
            last = day(row["last_contribution_month"] + "-01")
            start = person.birth_date.replace(day=1)
            if row["insurance_type"] == "pension":
                start = start.replace(year=start.year + 16)
            possible = (last.year - start.year) * 12 + last.month - start.month + 1
            assert 0 < months <= possible
            assert last < SNAPSHOT
        assert row["insuring_region"] == person.registered_region[:6]


def test_provident_fund_accounts_belong_to_adults_and_deposit_only_when_normal(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    for row in dataset_rows("housing_provident_fund"):
        person = people[row["id_number"]]
        assert age(person.birth_date, day(row["opened_on"])) >= 18
        assert (float(row["monthly_deposit"]) > 0) == (row["account_status"] == "normal")
        assert row["centre_region"] == person.registered_region[:4] + "00"


def test_vehicles_belong_to_adults_and_violations_to_their_own_vehicles(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    vehicles = dataset_rows("motor_vehicle")
    assert len({row["plate_number"] for row in vehicles}) == len(vehicles)
    registered = {}
    for row in vehicles:
        person = people[row["id_number"]]
        assert age(person.birth_date, day(row["registered_on"])) >= 18
        city = person.registered_region[:4]
        assert row["plate_number"].startswith("浙" + CITY_PLATE_LETTERS[city])
        registered[(row["id_number"], row["plate_number"])] = day(row["registered_on"])
    points: dict[str, list[tuple[dt.date, int]]] = defaultdict(list)
    for row in dataset_rows("traffic_violation"):
        since = registered[(row["id_number"], row["plate_number"])]
        assert since <= day(row["violation_date"]) < SNAPSHOT
        assert row["handled"] in ("true", "false")
        assert row["place"].endswith(MARK)
        points[row["id_number"]].append((day(row["violation_date"]), int(row["points"])))
    for scored in points.values():
        for on, _ in scored:
            year = [n for d, n in scored if on - dt.timedelta(days=365) < d <= on]
            assert sum(year) <= 12


def test_utility_accounts_are_the_household_heads_at_their_address(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    heads = {
        row["id_number"]
        for row in dataset_rows("household_registration")
        if row["relation_to_head"] == "head"
    }
    rows = dataset_rows("utility_account")
    assert len({row["account_number"] for row in rows}) == len(rows)
    for row in rows:
        assert row["id_number"] in heads
        assert row["service_address"] == people[row["id_number"]].registered_address


def test_enterprises_have_valid_codes_and_adult_legal_representatives(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    rows = dataset_rows("business_registration")
    assert len({row["credit_code"] for row in rows}) == len(rows)
    for row in rows:
        code = parse_credit_code(row["credit_code"])
        assert code.region.official[:6] == row["registered_region"]
        representative = people[row["legal_representative_id_number"]]
        assert row["legal_representative_name"] == representative.name
        established_on = day(row["established_on"])
        assert age(representative.birth_date, established_on) >= 18
        assert row["enterprise_name"].endswith(MARK)
        assert row["registered_address"].endswith(MARK)
        if row["registration_status"] == "deregistered":
            assert established_on < day(row["deregistered_on"]) <= SNAPSHOT
        else:
            assert row["deregistered_on"] == ""


def test_the_first_enterprise_is_represented_by_the_demo_citizens_grandson(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    demo = dataset_rows("business_registration")[0]
    assert demo["credit_code"] == "91330302MA1P3D8712"
    assert demo["registration_status"] == "active"
    grandson = people[demo["legal_representative_id_number"]]
    assert (grandson.id_number, grandson.name, grandson.sex) == (
        "330302199807160512",
        "林浩宇",
        "male",
    )
    household = next(
        row
        for row in dataset_rows("household_registration")
        if row["id_number"] == grandson.id_number
    )
    assert household["head_id_number"] == "330302195203140248"
    assert household["relation_to_head"] == "grandson"


def test_certificates_are_held_by_people_or_enterprises_of_the_registries(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    enterprises = {row["credit_code"]: row for row in dataset_rows("business_registration")}
    rows = dataset_rows("electronic_certificate")
    assert len({row["certificate_number"] for row in rows}) == len(rows)
    for row in rows:
        assert (row["id_number"] == "") != (row["credit_code"] == "")
        valid_from = day(row["valid_from"])
        if row["valid_until"]:
            assert valid_from < day(row["valid_until"])
        if row["id_number"]:
            person = people[row["id_number"]]
            assert row["holder_name"] == person.name
            assert age(person.birth_date, valid_from) >= (
                60 if row["certificate_type"] == "senior_citizen_card" else 18
            )
        else:
            enterprise = enterprises[row["credit_code"]]
            assert row["holder_name"] == enterprise["enterprise_name"]
            assert valid_from >= day(enterprise["established_on"])
            active = enterprise["registration_status"] == "active"
            assert (row["certificate_status"] == "cancelled") == (not active)
            if row["certificate_type"] == "business_licence":
                assert row["certificate_number"] == row["credit_code"]
        assert row["issuing_department"].endswith("-" + row["issuer_department_type"])


def test_contact_information_reaches_everyone_with_a_mobile_from_16_and_their_village_address(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    rows = dataset_rows("contact_information")
    persons = [row for row in rows if row["id_number"]]
    enterprises = {row["credit_code"]: row for row in dataset_rows("business_registration")}
    assert Counter(row["id_number"] for row in persons) == Counter(people.keys())
    mobiles = [row["mobile_phone"] for row in rows if row["mobile_phone"]]
    assert len(set(mobiles)) == len(mobiles)
    for row in persons:
        person = people[row["id_number"]]
        assert bool(row["mobile_phone"]) == (age(person.birth_date, SNAPSHOT) >= 16)
        village = person.registered_address.removesuffix(MARK)
        assert row["mailing_address"].startswith(village)
        assert row["mailing_address"].endswith("号" + MARK)
    for row in rows:
        if row["credit_code"]:
            enterprise = enterprises.pop(row["credit_code"])
            assert row["mailing_address"] == enterprise["registered_address"]
            assert row["mobile_phone"]
    assert enterprises == {}


def test_everyone_insured_holds_a_social_security_card_of_their_county(
    dataset_rows: Rows, people: dict[str, PersonRow]
) -> None:
    insured = {row["id_number"] for row in dataset_rows("social_security_contribution")}
    rows = dataset_rows("social_security_card")
    assert {row["id_number"] for row in rows} == insured
    assert len({row["bank_account"] for row in rows}) == len(rows)
    assert len({row["card_number"] for row in rows}) == len(rows)
    for row in rows:
        assert row["issuing_region"] == people[row["id_number"]].registered_region[:6]


def test_each_birth_certificate_is_mirrored_to_the_mother_and_the_father(
    dataset_rows: Rows,
) -> None:
    mirrored = Counter(
        (row["id_number"], row["certificate_number"], row["child_name"], row["child_birth_date"])
        for row in dataset_rows("child_birth_certificate")
    )
    expected = Counter(
        (parent, row["certificate_number"], row["child_name"], row["birth_date"])
        for row in dataset_rows("birth_certificate")
        for parent in (row["mother_id_number"], row["father_id_number"])
    )
    assert mirrored == expected


def test_violation_records_are_numbered_uniquely_by_the_city_of_the_plate(
    dataset_rows: Rows,
) -> None:
    rows = dataset_rows("traffic_violation")
    assert len({row["record_number"] for row in rows}) == len(rows)
    for row in rows:
        city = {letter: code for code, letter in CITY_PLATE_LETTERS.items()}[row["plate_number"][1]]
        assert row["record_number"].startswith(city + row["violation_date"][:4])
