"""The other hosted datasets, drawn for the people and households of the population:

- social security: medical insurance for everyone, basic pension for most adults; "retired"
  (receiving a pension) only at or past the retirement age (60 for men, 55 for women in the
  employee scheme, 60 in the resident scheme), contributions only from age 16;
- housing provident fund accounts of employees of 22 to 59, opened at 18 or later;
- vehicles registered to adults (18 or older on the day), Zhejiang plates of their city;
  traffic violations on their own vehicles after registration;
- water, electricity (and in towns, gas) accounts of each household head at the household's
  address;
- enterprises, each with a legal representative of at least 18 on the day it was established
  (the first: the demo citizen's grandson's), unified social credit codes valid under GB 32100
  (and their organisation codes under GB 11714);
- electronic certificates: driving licences, teacher and physician certificates, senior
  citizen cards (60 and older), business licences and food business licences of enterprises.

Ages and dates are as of REFERENCE_DATE. Names of enterprises, hospitals and every address end
in （合成数据）. Nothing here describes a real person or enterprise.
"""

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from synthetic_families import REFERENCE_DATE, Families, Household, Person, add_years
from synthetic_people import FEMALE_GIVEN, MALE_GIVEN, SYNTHETIC_MARK, Village, address_of

from servicekit.credit_code import ALPHABET, make_credit_code
from servicekit.regions import RegionCode

RECORDS_SEED = 20261102
PENSION_REFORM = dt.date(1992, 1, 1)
RETIREMENT_AGE = {("employee", "male"): 60, ("employee", "female"): 55}
RESIDENT_RETIREMENT_AGE = 60
#: Plate letters of Zhejiang's cities (浙A Hangzhou ... 浙L Zhoushan), by city code.
PLATE_LETTERS = {
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
PLATE_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
BRANDS = {
    "small_car": ("大众", "丰田", "本田", "别克", "吉利", "长安", "奇瑞", "日产"),
    "new_energy_small_car": ("比亚迪", "特斯拉", "蔚来", "零跑", "小鹏", "理想"),
    "motorcycle": ("雅马哈", "本田", "豪爵", "钱江"),
    "light_truck": ("江铃", "福田", "五十铃", "东风"),
}
#: Violation code, description, points, fine (yuan): modelled on the 2022 scoring rules.
VIOLATIONS = (
    ("1039", "机动车违反规定停放、临时停车，驾驶人不在现场，妨碍其他车辆、行人通行", 0, "150.00"),
    ("1625", "驾驶机动车违反道路交通信号灯通行", 6, "200.00"),
    ("1344", "驾驶机动车违反禁令标志、禁止标线指示", 3, "100.00"),
    ("1357", "驾驶机动车行经人行横道，未按规定减速、停车、避让行人", 3, "100.00"),
    ("1636", "驾驶机动车在城市道路上超过规定时速20%以上未达到50%", 6, "200.00"),
    ("6011", "驾驶机动车未按规定使用安全带", 1, "50.00"),
)
ROADS = ("人民路", "解放路", "中山路", "建设路", "学院路", "环城路", "新华路", "江滨路", "文化路")
TRADES = (
    ("网络科技", "limited_liability_company"),
    ("贸易", "limited_liability_company"),
    ("建筑工程", "limited_liability_company"),
    ("餐饮管理", "limited_liability_company"),
    ("电子商务", "limited_liability_company"),
    ("机械制造", "limited_liability_company"),
    ("文化传媒", "partnership"),
    ("服装", "sole_proprietorship"),
    ("小吃店", "individual_business"),
    ("便利店", "individual_business"),
    ("水果专业合作社", "farmers_cooperative"),
)
FORMS = {
    "limited_liability_company": "有限公司",
    "partnership": "工作室（有限合伙）",
    "sole_proprietorship": "厂",
    "individual_business": "",
    "farmers_cooperative": "",
}
CREDIT_CATEGORY = {
    "limited_liability_company": "1",
    "partnership": "1",
    "sole_proprietorship": "1",
    "individual_business": "2",
    "farmers_cooperative": "3",
}
ENTERPRISES = 300
#: The first enterprise: its legal representative is the demo citizen's grandson.
DEMO_ENTERPRISE = {
    "enterprise_name": "温州市鹿城区浩宇网络科技有限公司" + SYNTHETIC_MARK,
    "enterprise_type": "limited_liability_company",
    "registered_region": "330302",
    "registered_address": "浙江省温州市鹿城区松台街道庆年坊社区学院路18号" + SYNTHETIC_MARK,
    "established_on": "2021-06-18",
    "registration_status": "active",
}
DEMO_GRANDSON = "林浩宇"


def money(amount: float) -> str:
    return f"{amount:.2f}"


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_between(first: dt.date, last: dt.date) -> int:
    """Calendar months from ``first``'s month to ``last``'s, both included."""
    return (last.year - first.year) * 12 + last.month - first.month + 1


def organisation_code(rng: random.Random, established_on: dt.date) -> str:
    """A GB 11714 code (8 characters and its check): "MA…" for those registered since the
    credit-code reform (October 2015), 8 digits before."""
    if established_on >= dt.date(2015, 10, 1):
        body = "MA" + "".join(rng.choice(ALPHABET) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    values = [int(c) if c.isdigit() else ord(c) - ord("A") + 10 for c in body]
    check = 11 - sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


@dataclass
class Records:
    social_security: list[dict[str, str]] = field(default_factory=list)
    provident_fund: list[dict[str, str]] = field(default_factory=list)
    vehicles: list[dict[str, str]] = field(default_factory=list)
    violations: list[dict[str, str]] = field(default_factory=list)
    utilities: list[dict[str, str]] = field(default_factory=list)
    enterprises: list[dict[str, str]] = field(default_factory=list)
    certificates: list[dict[str, str]] = field(default_factory=list)


class RecordBuilder:
    def __init__(
        self,
        people: list[Person],
        families: Families,
        villages: list[Village],
        names: dict[str, str],
    ) -> None:
        self.rng = random.Random(RECORDS_SEED)
        self.people = people
        self.families = families
        self.names = names
        self.by_county: dict[str, list[Village]] = {}
        for village in villages:
            self.by_county.setdefault(village.county_code, []).append(village)
        self.used: set[str] = set()
        self.records = Records()

    def fresh(self, draw: Callable[[], str]) -> str:
        """A drawn identifier not drawn before (plates, account and certificate numbers)."""
        while True:
            text = draw()
            if text not in self.used:
                self.used.add(text)
                return text

    def digits(self, count: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(count))

    def day_between(self, first: dt.date, last: dt.date) -> dt.date:
        return first + dt.timedelta(days=self.rng.randrange(max((last - first).days, 0) + 1))

    def city_name(self, county: str) -> str:
        return self.names[county[:4] + "00"]

    def county_name(self, county: str) -> str:
        return self.names[county]

    # --- social security and provident fund -----------------------------------------------

    def social_security(self, person: Person) -> tuple[str, str] | None:
        """The person's insurance rows; the pension's (scheme, status), None without one."""
        region = person.county
        last_month_end = REFERENCE_DATE.replace(day=1) - dt.timedelta(days=1)
        pension: tuple[str, str] | None = None
        pension_last: dt.date | None = None
        if person.age() >= 18 and self.rng.random() < 0.85:
            start = max(add_years(person.birth, 16), PENSION_REFORM)
            scheme = "employee" if self.rng.random() < 0.7 else "resident"
            retirement_age = RETIREMENT_AGE.get((scheme, person.sex), RESIDENT_RETIREMENT_AGE)
            retired_on = add_years(person.birth, retirement_age)
            if retired_on <= REFERENCE_DATE:
                status, last = "retired", retired_on.replace(day=1) - dt.timedelta(days=1)
            elif self.rng.random() < 0.85:
                status, last = "contributing", last_month_end
            else:
                status = "suspended"
                last = self.day_between(
                    min(start + dt.timedelta(days=400), last_month_end), last_month_end
                )
            possible = months_between(start, last) if last >= start else 0
            least = min(180 if status == "retired" else 1, possible)
            months = self.rng.randint(least, possible)
            pension, pension_last = (scheme, status), (last if months else None)
            self.add_insurance(person, "pension", scheme, status, months, pension_last, region)
        medical_start = max(person.birth, dt.date(1998, 1, 1))
        possible = months_between(medical_start, last_month_end)
        if pension == ("employee", "retired"):
            months = self.rng.randint(min(240, possible), possible)
            self.add_insurance(person, "medical", "employee", "retired", months, None, region)
        elif pension is not None and pension[1] == "suspended":
            last = pension_last or last_month_end
            months = self.rng.randint(0, max(0, months_between(medical_start, last)))
            self.add_insurance(
                person, "medical", pension[0], "suspended", months, last if months else None, region
            )
        else:
            scheme = pension[0] if pension is not None else "resident"
            months = self.rng.randint(min(1, possible), possible)
            self.add_insurance(
                person, "medical", scheme, "contributing", months, last_month_end, region
            )
        return pension

    def add_insurance(
        self,
        person: Person,
        kind: str,
        scheme: str,
        status: str,
        months: int,
        last: dt.date | None,
        region: str,
    ) -> None:
        self.records.social_security.append(
            {
                "id_number": person.id_number,
                "insurance_type": kind,
                "scheme": scheme,
                "insured_status": status,
                "months_contributed": str(months),
                "last_contribution_month": month_of(last) if last else "",
                "insuring_region": region,
            }
        )

    def provident_fund(self, person: Person, pension: tuple[str, str] | None) -> None:
        """Employees of 22 to 59: a normal account while contributing, sealed when not."""
        age = person.age()
        if pension is None or pension[0] != "employee" or not 22 <= age < 60:
            return
        if pension[1] not in ("contributing", "suspended"):
            return
        if self.rng.random() >= 0.6:
            return
        opened_on = self.day_between(
            max(add_years(person.birth, 18), PENSION_REFORM), REFERENCE_DATE - dt.timedelta(days=60)
        )
        status = "normal" if pension[1] == "contributing" else "sealed"
        deposit = self.rng.randrange(300, 6000, 10) if status == "normal" else 0
        months = months_between(opened_on, REFERENCE_DATE)
        balance = self.rng.uniform(0.1, 0.7) * self.rng.randrange(300, 6000, 10) * months
        city = person.county[:4]
        self.records.provident_fund.append(
            {
                "id_number": person.id_number,
                "account_number": self.fresh(lambda: city + self.digits(8)),
                "account_status": status,
                "monthly_deposit": money(deposit),
                "balance": money(balance),
                "opened_on": opened_on.isoformat(),
                "management_centre": self.city_name(person.county) + "住房公积金管理中心",
                "centre_region": city + "00",
            }
        )

    # --- vehicles, violations, utilities ------------------------------------------------------

    def plate(self, city: str, vehicle_type: str) -> str:
        prefix = "浙" + PLATE_LETTERS[city]
        if vehicle_type == "new_energy_small_car":
            return self.fresh(lambda: prefix + self.rng.choice("DF") + self.digits(5))

        def draw() -> str:
            letters = self.rng.randrange(3)
            body = [self.rng.choice("0123456789") for _ in range(5)]
            for index in self.rng.sample(range(5), letters):
                body[index] = self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
            return prefix + "".join(body)

        return self.fresh(draw)

    def vehicles(self, person: Person) -> list[dict[str, str]]:
        age = person.age()
        if age < 18 or self.rng.random() >= (0.4 if 20 <= age <= 65 else 0.1):
            return []
        owned = []
        for _ in range(1 if self.rng.random() < 0.85 else 2):
            vehicle_type = self.rng.choices(tuple(BRANDS), weights=(60, 20, 12, 8))[0]
            earliest = max(add_years(person.birth, 18), dt.date(2000, 1, 1))
            if vehicle_type == "new_energy_small_car":
                earliest = max(earliest, dt.date(2016, 1, 1))
            if earliest >= REFERENCE_DATE:
                continue
            registered_on = self.day_between(earliest, REFERENCE_DATE - dt.timedelta(days=10))
            status = self.rng.choices(
                ("normal", "inspection_overdue", "deregistered"), weights=(85, 10, 5)
            )[0]
            vehicle = {
                "id_number": person.id_number,
                "plate_number": self.plate(person.county[:4], vehicle_type),
                "vehicle_type": vehicle_type,
                "brand": self.rng.choice(BRANDS[vehicle_type]),
                "registered_on": registered_on.isoformat(),
                "vehicle_status": status,
            }
            self.records.vehicles.append(vehicle)
            owned.append(vehicle)
        return owned

    def violations(self, person: Person, vehicles: list[dict[str, str]]) -> None:
        recent_points: list[tuple[dt.date, int]] = []
        for vehicle in vehicles:
            if vehicle["vehicle_status"] == "deregistered" or self.rng.random() >= 0.35:
                continue
            first = max(
                dt.date.fromisoformat(vehicle["registered_on"]),
                REFERENCE_DATE - dt.timedelta(days=3 * 365),
            )
            for _ in range(self.rng.randint(1, 2)):
                day = self.day_between(first, REFERENCE_DATE - dt.timedelta(days=1))
                code, description, points, fine = self.rng.choice(VIOLATIONS)
                year_before = [p for d, p in recent_points if abs((day - d).days) < 365]
                if sum(year_before) + points > 12:
                    continue
                recent_points.append((day, points))
                old = day < REFERENCE_DATE - dt.timedelta(days=60)
                handled = self.rng.random() < (0.9 if old else 0.4)
                road, crossing = self.rng.sample(ROADS, 2)
                self.records.violations.append(
                    {
                        "id_number": person.id_number,
                        "plate_number": vehicle["plate_number"],
                        "violation_date": day.isoformat(),
                        "place": f"{self.county_name(person.county)}{road}与{crossing}交叉口"
                        + SYNTHETIC_MARK,
                        "violation_code": code,
                        "violation_description": description,
                        "points": str(points),
                        "fine": fine,
                        "handled": "true" if handled else "false",
                    }
                )

    def utilities(self, household: Household) -> None:
        head = household.head
        urban = head.address.removesuffix(SYNTHETIC_MARK).endswith(("社区", "居委会"))
        kinds = ["electricity", "water"]
        if urban or self.rng.random() < 0.15:
            kinds.insert(1, "gas")
        for kind in kinds:
            owed = self.rng.random() < 0.2
            self.records.utilities.append(
                {
                    "id_number": head.id_number,
                    "utility_type": kind,
                    "account_number": self.fresh(
                        lambda kind=kind: (
                            {"electricity": "33", "gas": "G", "water": "W"}[kind]
                            + self.digits(8 if kind != "gas" else 9)
                        )
                    ),
                    "service_address": head.address,
                    "balance_due": money(self.rng.uniform(10, 500)) if owed else "0.00",
                }
            )

    # --- enterprises and certificates -----------------------------------------------------

    def enterprise(
        self, representative: Person, fixed: dict[str, str] | None = None
    ) -> dict[str, str] | None:
        if fixed is not None:
            established_on = dt.date.fromisoformat(fixed["established_on"])
            kind = fixed["enterprise_type"]
            region = fixed["registered_region"]
        else:
            earliest = max(add_years(representative.birth, 18), dt.date(1995, 1, 1))
            if earliest >= REFERENCE_DATE - dt.timedelta(days=60):
                return None
            established_on = self.day_between(earliest, REFERENCE_DATE - dt.timedelta(days=30))
            trade, kind = self.rng.choice(TRADES)
            region = representative.county
        code = self.fresh(
            lambda: make_credit_code(
                registration_authority="9",
                category=CREDIT_CATEGORY[kind],
                region=RegionCode.parse(region),
                organisation_code=organisation_code(self.rng, established_on),
            )
        )
        if fixed is not None:
            row = {"credit_code": code, **fixed, "deregistered_on": ""}
        else:
            village = self.rng.choice(self.by_county[region])
            trade_name = self.rng.choice(MALE_GIVEN + FEMALE_GIVEN) + self.rng.choice(
                MALE_GIVEN + FEMALE_GIVEN
            )
            place = self.city_name(region) + self.county_name(region)
            name = self.fresh(
                lambda: (
                    place
                    + trade_name
                    + self.rng.choice(("", "新", "鑫", "盛", "华"))
                    + trade
                    + FORMS[kind]
                    + SYNTHETIC_MARK
                )
            )
            deregistered = (
                self.rng.random() < 0.15
                and established_on < REFERENCE_DATE - dt.timedelta(days=400)
            )
            row = {
                "credit_code": code,
                "enterprise_name": name,
                "enterprise_type": kind,
                "registered_region": region,
                "registered_address": address_of(village, self.names).removesuffix(SYNTHETIC_MARK)
                + f"{self.rng.choice(ROADS)}{self.rng.randint(1, 399)}号"
                + SYNTHETIC_MARK,
                "established_on": established_on.isoformat(),
                "registration_status": "deregistered" if deregistered else "active",
                "deregistered_on": self.day_between(
                    established_on + dt.timedelta(days=365), REFERENCE_DATE - dt.timedelta(days=1)
                ).isoformat()
                if deregistered
                else "",
            }
        row["legal_representative_name"] = representative.name
        row["legal_representative_id_number"] = representative.id_number
        self.records.enterprises.append(row)
        return row

    def certificate(
        self,
        holder: dict[str, str],
        *,
        kind: str,
        name: str,
        number: str,
        holder_name: str,
        issuer_type: str,
        issuer_region: str,
        valid_from: dt.date,
        valid_until: dt.date | None,
        status: str,
    ) -> None:
        self.records.certificates.append(
            {
                **holder,
                "certificate_type": kind,
                "certificate_name": name,
                "certificate_number": number,
                "holder_name": holder_name,
                "issuer_department_type": issuer_type,
                "issuing_department": f"{issuer_region}-{issuer_type}",
                "valid_from": valid_from.isoformat(),
                "valid_until": valid_until.isoformat() if valid_until else "",
                "certificate_status": status,
            }
        )

    def personal_certificates(self, person: Person, drives: bool) -> None:
        age = person.age()
        holder = {"id_number": person.id_number, "credit_code": ""}
        city = person.county[:4] + "00"
        if age >= 18 and (drives or (age <= 70 and self.rng.random() < 0.2)):
            first_licence = self.day_between(
                max(add_years(person.birth, 18), dt.date(1990, 1, 1)), REFERENCE_DATE
            )
            # 6 years, then 10, then for the long term; the current period's document.
            valid_from, valid_until = first_licence, add_years(first_licence, 6)
            if valid_until <= REFERENCE_DATE:
                valid_from, valid_until = valid_until, add_years(valid_until, 10)
            if valid_until <= REFERENCE_DATE and self.rng.random() < 0.7:
                valid_from, valid_until_or_none = valid_until, None
            else:
                valid_until_or_none = valid_until
            self.certificate(
                holder,
                kind="driving_licence",
                name="机动车驾驶证",
                number=self.fresh(lambda: person.county[:4] + self.digits(8)),
                holder_name=person.name,
                issuer_type="traffic_police",
                issuer_region=city,
                valid_from=valid_from,
                valid_until=valid_until_or_none,
                status="revoked" if self.rng.random() < 0.04 else "valid",
            )
        if 22 <= age <= 65 and self.rng.random() < 0.03:
            issued = self.day_between(add_years(person.birth, 22), REFERENCE_DATE)
            self.certificate(
                holder,
                kind="teacher_qualification",
                name="教师资格证",
                number=self.fresh(lambda: f"{issued.year}33" + self.digits(11)),
                holder_name=person.name,
                issuer_type="education",
                issuer_region=person.county,
                valid_from=issued,
                valid_until=None,
                status="valid",
            )
        if 25 <= age <= 65 and self.rng.random() < 0.015:
            issued = self.day_between(add_years(person.birth, 25), REFERENCE_DATE)
            self.certificate(
                holder,
                kind="physician_practising",
                name="医师执业证书",
                number=self.fresh(lambda: "110" + person.county + self.digits(6)),
                holder_name=person.name,
                issuer_type="health",
                issuer_region=city,
                valid_from=issued,
                valid_until=None,
                status="valid",
            )
        if age >= 60 and self.rng.random() < 0.4:
            issued = self.day_between(add_years(person.birth, 60), REFERENCE_DATE)
            self.certificate(
                holder,
                kind="senior_citizen_card",
                name="老年人优待证",
                number=self.fresh(lambda: person.county + self.digits(8)),
                holder_name=person.name,
                issuer_type="civil_affairs",
                issuer_region=person.county,
                valid_from=issued,
                valid_until=None,
                status="valid",
            )

    def enterprise_certificates(self, enterprise: dict[str, str]) -> None:
        holder = {"id_number": "", "credit_code": enterprise["credit_code"]}
        established_on = dt.date.fromisoformat(enterprise["established_on"])
        active = enterprise["registration_status"] == "active"
        region = enterprise["registered_region"]
        self.certificate(
            holder,
            kind="business_licence",
            name="营业执照",
            number=enterprise["credit_code"],
            holder_name=enterprise["enterprise_name"],
            issuer_type="market_regulation",
            issuer_region=region,
            valid_from=established_on,
            valid_until=None,
            status="valid" if active else "cancelled",
        )
        if "餐饮" in enterprise["enterprise_name"] or "小吃" in enterprise["enterprise_name"]:
            valid_from = self.day_between(established_on, REFERENCE_DATE - dt.timedelta(days=30))
            self.certificate(
                holder,
                kind="food_business_licence",
                name="食品经营许可证",
                number=self.fresh(lambda: "JY1" + region + self.digits(8)),
                holder_name=enterprise["enterprise_name"],
                issuer_type="market_regulation",
                issuer_region=region,
                valid_from=valid_from,
                valid_until=add_years(valid_from, 5) - dt.timedelta(days=1),
                status="valid" if active else "cancelled",
            )

    def build(self) -> Records:
        drivers: set[str] = set()
        for person in self.people:
            pension = self.social_security(person)
            self.provident_fund(person, pension)
            owned = self.vehicles(person)
            if owned:
                drivers.add(person.id_number)
            self.violations(person, owned)
        for household in self.families.households:
            self.utilities(household)
        grandson = next(
            person
            for person, relation in self.families.households[0].members
            if relation == "grandson" and person.name == DEMO_GRANDSON
        )
        self.enterprise(grandson, DEMO_ENTERPRISE)
        adults = [person for person in self.people if person.age() >= 22]
        while len(self.records.enterprises) < ENTERPRISES:
            self.enterprise(self.rng.choice(adults))
        for person in self.people:
            self.personal_certificates(person, person.id_number in drivers)
        for enterprise in self.records.enterprises:
            self.enterprise_certificates(enterprise)
        return self.records


def build_records(
    people: list[Person], families: Families, villages: list[Village], names: dict[str, str]
) -> Records:
    return RecordBuilder(people, families, villages, names).build()
