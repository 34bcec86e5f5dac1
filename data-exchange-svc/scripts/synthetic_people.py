"""The synthetic people: the region and name helpers, and the base population of 3,000 drawn
from a fixed seed (the first 3,000 rows of data/population.csv; never to change, since other
services' tests use them). Nobody here is a real person."""

import csv
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

from servicekit.regions import RegionCode
from servicekit.resident_id import make_resident_id, parse_resident_id

RANDOM_SEED = 20231130
PEOPLE = 3000
SYNTHETIC_MARK = "（合成数据）"

#: The first record, fixed by the platform's brief: the README and end-to-end test use her.
DEMO_CITIZEN = {
    "id_number": "330302195203140248",
    "name": "林秀英",
    "sex": "female",
    "birth_date": "1952-03-14",
    "ethnicity": "汉族",
    "registered_region": "330302026003",
    "registered_address": "浙江省温州市鹿城区松台街道庆年坊社区" + SYNTHETIC_MARK,
    "id_card_status": "valid",
}

SURNAMES = (
    "王陈张李吴徐周林朱金刘杨黄胡郑沈何章叶方"  # the most common in Zhejiang: drawn thrice as often
    "俞潘蒋钱邵汪孙马赵应许谢楼夏姚施毛鲍程丁余董袁卢范傅严陆戴邱项冯郭梁高宋唐韩曹彭曾"
    "肖田蔡魏吕任姜崔谭石洪翁柳虞詹盛"
)
MALE_GIVEN = "伟强军杰涛明华建国平勇斌林海峰磊超鹏辉俊文志浩宇晨轩睿博振永德兴荣根福清忠祥"
FEMALE_GIVEN = "英秀芳娟敏静丽红燕玲萍霞婷雪琳慧珍兰凤梅佳欣怡琪雨涵悦诗思晓月彩美素雅颖嘉露莉"
ETHNICITIES = (
    ("汉族", 9850),
    ("畲族", 70),
    ("土家族", 20),
    ("苗族", 20),
    ("回族", 10),
    ("布依族", 10),
    ("侗族", 10),
    ("壮族", 10),
)
BIRTH_FIRST = dt.date(1930, 1, 1)
BIRTH_LAST = dt.date(2008, 12, 31)


@dataclass(frozen=True, slots=True)
class Village:
    code: str
    name: str
    township_code: str
    county_code: str


def read_villages(path: Path) -> list[Village]:
    with path.open(encoding="utf-8", newline="") as source:
        return [
            Village(row["code"], row["name"], row["township_code"], row["county_code"])
            for row in csv.DictReader(source)
        ]


def read_names(townships: Path, divisions: Path) -> dict[str, str]:
    """Region code (official form) → name: townships from NBS, the levels above from MCA."""
    names: dict[str, str] = {}
    with divisions.open(encoding="utf-8", newline="") as source:
        for row in csv.DictReader(source):
            if row["level"] in ("1", "2", "3"):
                names[row["code"]] = row["name"]
    with townships.open(encoding="utf-8", newline="") as source:
        for row in csv.DictReader(source):
            names[row["code"]] = row["name"]
    return names


def address_of(village: Village, names: dict[str, str]) -> str:
    county = RegionCode.parse(village.county_code)
    city = county.parent
    assert city is not None
    parts = ("330000", city.official, county.official, village.township_code)
    return "".join(names[code] for code in parts) + village.name + SYNTHETIC_MARK


def given_name(rng: random.Random, sex: str) -> str:
    pool = MALE_GIVEN if sex == "male" else FEMALE_GIVEN
    length = 1 if rng.random() < 0.3 else 2
    return "".join(rng.choice(pool) for _ in range(length))


def surname(rng: random.Random) -> str:
    weights = [3 if index < 20 else 1 for index in range(len(SURNAMES))]
    return rng.choices(SURNAMES, weights=weights)[0]


def base_population(
    villages: list[Village], names: dict[str, str], count: int
) -> list[dict[str, str]]:
    rng = random.Random(RANDOM_SEED)
    people = [{**DEMO_CITIZEN, "face_seed": str(rng.randrange(1, 2**31))}]
    taken = {DEMO_CITIZEN["id_number"]}
    span = (BIRTH_LAST - BIRTH_FIRST).days
    ethnicity_names = [name for name, _ in ETHNICITIES]
    ethnicity_weights = [weight for _, weight in ETHNICITIES]
    while len(people) < count:
        village = rng.choice(villages)
        sex = "male" if rng.random() < 0.5 else "female"
        birth_date = BIRTH_FIRST + dt.timedelta(days=rng.randrange(span + 1))
        # The order code's last digit is odd for men, even for women.
        sequence = rng.randrange(1, 500) * 2 - (1 if sex == "male" else 0)
        id_number = make_resident_id(RegionCode.parse(village.county_code), birth_date, sequence)
        name = surname(rng) + given_name(rng, sex)
        ethnicity = rng.choices(ethnicity_names, weights=ethnicity_weights)[0]
        face_seed = rng.randrange(1, 2**31)
        if id_number in taken:
            continue
        taken.add(id_number)
        people.append(
            {
                "id_number": id_number,
                "name": name,
                "sex": sex,
                "birth_date": birth_date.isoformat(),
                "ethnicity": ethnicity,
                "registered_region": village.code,
                "registered_address": address_of(village, names),
                "id_card_status": "valid",
                "face_seed": str(face_seed),
            }
        )
    return people


def check_base(
    people: list[dict[str, str]], names: dict[str, str], villages: list[Village]
) -> None:
    """What the base population promises, checked before anything is written."""
    demo_village = next(v for v in villages if v.code == DEMO_CITIZEN["registered_region"])
    assert address_of(demo_village, names) == DEMO_CITIZEN["registered_address"]
    for person in people:
        parsed = parse_resident_id(
            person["id_number"], today=BIRTH_LAST, region_known=lambda _: True
        )
        assert parsed.sex == person["sex"]
        assert parsed.birth_date.isoformat() == person["birth_date"]
        assert person["registered_region"].startswith(parsed.issuing_region.prefix)
    cities = {person["registered_region"][:4] for person in people}
    assert len(cities) == 11, f"only {len(cities)} cities drawn"
