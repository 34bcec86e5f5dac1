"""Generate the synthetic population registry and the datasets built on it (data/*.csv,
data/household_registration.jsonl, data/demo_face_capture.json).

Usage (from the repository root):

    uv run python data-exchange-svc/scripts/generate_population.py \\
        /work/shared/data/regions/zj_villages_nbs2023.csv

The village file (NBS 2023 statistical division codes) gives each person a home village; the
township file beside it (same source) and the MCA division file beside it name the township,
county and city of the address. Everything else is drawn from fixed random seeds, so the output
is the same byte for byte on every run:

1. the base population (synthetic_people): 3,000 people, the first rows of population.csv,
   unchanged since they were first drawn (other services' tests use them);
2. their families (synthetic_families): relatives appended to the population, households,
   marriages, birth certificates;
3. the other records (synthetic_records): social security, provident fund, vehicles and
   violations, utility accounts, enterprises, electronic certificates;
4. what application forms ask beyond those (synthetic_form_records): contact information,
   social security cards and their bank accounts, children's birth certificates as their
   parents see them, the violations' record numbers;
5. the identity card each resident holds (synthetic_id_cards): issued, valid until, by whom.

Nobody and nothing in the output is real.
"""

import argparse
import csv
import json
from collections.abc import Iterable
from pathlib import Path

from synthetic_families import REFERENCE_DATE, Families, Person, build_families
from synthetic_form_records import FormRecords, build_form_records, violation_rows
from synthetic_id_cards import build_id_cards
from synthetic_people import (
    PEOPLE,
    Village,
    base_population,
    check_base,
    read_names,
    read_villages,
)
from synthetic_records import Records, build_records

from data_exchange_svc.registry.dataset import COLUMNS
from data_exchange_svc.registry.faces import (
    cosine_similarity,
    simulated_capture,
    template_from_seed,
)
from data_exchange_svc.resources.spec import HOSTED
from servicekit.resident_id import parse_resident_id

SERVICE_DIR = Path(__file__).resolve().parents[1]
#: The demo "phone capture": her template plus noise of this size, cosine ≈ 0.97.
DEMO_CAPTURE_NOISE = 0.022
DEMO_CAPTURE_NOISE_SEED = 19520314


def demo_capture(people: list[dict[str, str]]) -> dict[str, object]:
    stored = template_from_seed(int(people[0]["face_seed"]))
    captured = simulated_capture(
        stored, noise_seed=DEMO_CAPTURE_NOISE_SEED, noise=DEMO_CAPTURE_NOISE
    )
    similarity = cosine_similarity(stored, captured)
    assert 0.95 <= similarity <= 0.98, similarity
    return {"id_number": people[0]["id_number"], "template": captured}


def check_people(people: list[dict[str, str]]) -> None:
    """Every number valid and unique, agreeing with the person's sex, birth date and county."""
    assert len({person["id_number"] for person in people}) == len(people)
    for person in people:
        parsed = parse_resident_id(
            person["id_number"], today=REFERENCE_DATE, region_known=lambda _: True
        )
        assert parsed.sex == person["sex"]
        assert parsed.birth_date.isoformat() == person["birth_date"]
        assert person["registered_region"].startswith(parsed.issuing_region.prefix)


def columns_of(code: str) -> list[str]:
    spec = HOSTED[code]
    subjects = [
        {"person": "id_number", "enterprise": "credit_code"}[kind] for kind in spec.subject_kinds
    ]
    return subjects + [field.name for field in spec.loaded_fields]


def household_rows(families: Families) -> Iterable[dict[str, object]]:
    for household in families.households:
        head = household.head
        members = [
            {"name": person.name, "id_number": person.id_number, "relation_to_head": relation}
            for person, relation in household.members
        ]
        for person, relation in household.members:
            yield {
                "id_number": person.id_number,
                "household_number": household.number,
                "relation_to_head": relation,
                "head_name": head.name,
                "head_id_number": head.id_number,
                "household_address": head.address,
                "household_region": head.region,
                "members": members,
            }


def marriage_rows(families: Families) -> Iterable[dict[str, str]]:
    for marriage in families.marriages:
        for subject, spouse in (
            (marriage.husband, marriage.wife),
            (marriage.wife, marriage.husband),
        ):
            yield {
                "id_number": subject.id_number,
                "spouse_name": spouse.name,
                "spouse_id_number": spouse.id_number,
                "registered_on": marriage.registered_on.isoformat(),
                "marital_status": "divorced" if marriage.divorced_on else "married",
                "divorced_on": marriage.divorced_on.isoformat() if marriage.divorced_on else "",
                "registering_region": marriage.region,
            }


def birth_rows(families: Families) -> Iterable[dict[str, str]]:
    for birth in families.births:
        yield {
            "id_number": birth.child.id_number,
            "certificate_number": birth.certificate_number,
            "child_name": birth.child.name,
            "child_sex": birth.child.sex,
            "birth_date": birth.child.row["birth_date"],
            "birth_region": birth.region,
            "hospital_name": birth.hospital,
            "mother_name": birth.mother.name,
            "mother_id_number": birth.mother.id_number,
            "father_name": birth.father.name,
            "father_id_number": birth.father.id_number,
        }


def write_csv(path: Path, columns: list[str], rows: Iterable[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write(
    people: list[dict[str, str]],
    capture: dict[str, object],
    families: Families,
    records: Records,
    form_records: FormRecords,
    out_dir: Path,
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "population.csv", list(COLUMNS), people)
    text = json.dumps(capture, ensure_ascii=False, indent=2) + "\n"
    (out_dir / "demo_face_capture.json").write_text(text, encoding="utf-8")
    with (out_dir / "household_registration.jsonl").open("w", encoding="utf-8") as target:
        for row in household_rows(families):
            target.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    flat = {
        "marriage_registration": marriage_rows(families),
        "birth_certificate": birth_rows(families),
        "social_security_contribution": records.social_security,
        "housing_provident_fund": records.provident_fund,
        "motor_vehicle": records.vehicles,
        "traffic_violation": violation_rows(records.violations),
        "utility_account": records.utilities,
        "business_registration": records.enterprises,
        "electronic_certificate": records.certificates,
        "contact_information": form_records.contacts,
        "social_security_card": form_records.social_security_cards,
        "child_birth_certificate": form_records.child_birth_certificates,
        "resident_id_card": build_id_cards(Person(row) for row in people),
    }
    for code, rows in flat.items():
        write_csv(out_dir / f"{code}.csv", columns_of(code), rows)


def generate(
    villages: list[Village], names: dict[str, str]
) -> tuple[list[dict[str, str]], Families, Records, FormRecords]:
    base = base_population(villages, names, PEOPLE)
    check_base(base, names, villages)
    families = build_families(base, villages, names)
    people = base + families.appended
    check_people(people)
    persons = [Person(row) for row in people]
    records = build_records(persons, families, villages, names)
    return people, families, records, build_form_records(persons, families, records)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("villages", type=Path, help="zj_villages_nbs2023.csv")
    parser.add_argument(
        "--townships", type=Path, help="default: zj_townships_nbs2023.csv beside it"
    )
    parser.add_argument(
        "--divisions", type=Path, help="default: zj_divisions_mca2025.csv beside it"
    )
    parser.add_argument("--out-dir", type=Path, default=SERVICE_DIR / "data")
    args = parser.parse_args(argv)
    townships = args.townships or args.villages.with_name("zj_townships_nbs2023.csv")
    divisions = args.divisions or args.villages.with_name("zj_divisions_mca2025.csv")
    villages = read_villages(args.villages)
    names = read_names(townships, divisions)
    people, families, records, form_records = generate(villages, names)
    write(people, demo_capture(people), families, records, form_records, args.out_dir)


if __name__ == "__main__":
    main()
